//! DreamerV3's return normalisation: returns are divided by `S = max(limit, P95 - P5)`, the range
//! between the 5th and 95th percentile of the imagined returns, tracked as an exponential moving
//! average over batches (rate 0.01, limit 1). Large returns are scaled down to about unit range,
//! small ones are not scaled up (so rare sparse rewards are not drowned in noise).

/// The percentile statistics of a stream of batches.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Moments {
    /// Weight of each new batch in the averages.
    pub rate: f64,
    /// The smallest scale `S`.
    pub limit: f64,
    /// Percentiles, in percent.
    pub lo_pct: f64,
    pub hi_pct: f64,
    /// Divide the averages by the weight they have gathered (the averages start at 0).
    pub debias: bool,
    lo: f64,
    hi: f64,
    /// Total weight of the batches seen (for debiasing).
    weight: f64,
}

impl Default for Moments {
    /// DreamerV3's settings for returns: 5th-95th percentile, rate 0.01, limit 1, no debiasing.
    fn default() -> Self {
        Moments::new(0.01, 1.0, 5.0, 95.0, false)
    }
}

/// The `pct`-th percentile of `sorted` (ascending), with linear interpolation between the two
/// nearest ranks (NumPy's default).
pub fn percentile(sorted: &[f64], pct: f64) -> f64 {
    debug_assert!(!sorted.is_empty(), "percentile of nothing");
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (pct / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (sorted[j] - sorted[i]) * frac
}

impl Moments {
    pub fn new(rate: f64, limit: f64, lo_pct: f64, hi_pct: f64, debias: bool) -> Self {
        Moments {
            rate,
            limit,
            lo_pct,
            hi_pct,
            debias,
            lo: 0.0,
            hi: 0.0,
            weight: 0.0,
        }
    }

    /// Takes one batch of returns into the averages (non-finite values are ignored).
    pub fn update(&mut self, values: &[f32]) {
        let mut v: Vec<f64> = values
            .iter()
            .map(|&x| x as f64)
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            return;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let (lo, hi) = (percentile(&v, self.lo_pct), percentile(&v, self.hi_pct));
        let r = self.rate;
        self.lo = (1.0 - r) * self.lo + r * lo;
        self.hi = (1.0 - r) * self.hi + r * hi;
        self.weight = (1.0 - r) * self.weight + r;
    }

    /// The averaged low and high percentiles.
    pub fn range(&self) -> (f64, f64) {
        if self.debias && self.weight > 0.0 {
            (self.lo / self.weight, self.hi / self.weight)
        } else {
            (self.lo, self.hi)
        }
    }

    /// `(offset, scale)`: returns are normalised as `(x - offset) / scale` and advantages as
    /// `(ret - value) / scale`, with `scale = max(limit, hi - lo)`.
    pub fn stats(&self) -> (f64, f64) {
        let (lo, hi) = self.range();
        (lo, (hi - lo).max(self.limit))
    }
}
