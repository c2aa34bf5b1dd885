//! numpy's legacy global random generator (MT19937 seeded by `np.random.seed(int)`,
//! doubles from two 32-bit draws), so a seed places objects and goals exactly
//! where Meta-World's `*-goal-observable` environment with that seed does.

/// The Mersenne Twister MT19937 with numpy's legacy `random_sample` doubles.
#[derive(Clone, Debug)]
pub struct NumpyLegacyRng {
    mt: [u32; 624],
    index: usize,
}

impl NumpyLegacyRng {
    /// `np.random.seed(seed)` for an integer seed below 2^32.
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        NumpyLegacyRng { mt, index: 624 }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
            let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.mt[i] = v;
        }
        self.index = 0;
    }

    /// Next tempered 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// A double in [0, 1) with 53 random bits, as numpy's legacy `random_sample`.
    pub fn next_f64(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `np.random.uniform(low, high)` over arrays: element-wise `low + (high - low) * u`.
    pub fn uniform<const N: usize>(&mut self, low: &[f64; N], high: &[f64; N]) -> [f64; N] {
        let mut out = [0.0; N];
        for i in 0..N {
            out[i] = low[i] + (high[i] - low[i]) * self.next_f64();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_mt19937_outputs() {
        // Reference values of MT19937 seeded with 5489 (the generator's published default).
        let mut r = NumpyLegacyRng::new(5489);
        assert_eq!(r.next_u32(), 3_499_211_612);
        assert_eq!(r.next_u32(), 581_869_302);
        assert_eq!(r.next_u32(), 3_890_346_734);
    }

    #[test]
    fn seed_zero_first_sample_matches_numpy() {
        // np.random.seed(0); np.random.random_sample() == 0.5488135039273248
        let mut r = NumpyLegacyRng::new(0);
        assert_eq!(r.next_f64(), 0.548_813_503_927_324_8);
    }
}
