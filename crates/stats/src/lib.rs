//! The statistics every evaluation and report uses, in one place: the median and quantiles,
//! the 95 % Wilson interval of a success rate, the AUC of one sample against another (and of
//! an episode's own goal against the others), and Spearman's rank correlation.

/// Median of `v` (0 for none).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// The `q` quantile (linear between order statistics) of `v` (NaN for none).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let x = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (x - lo as f64)
}

/// The 95 % Wilson score interval of `k` successes in `n` trials.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, k as f64 / n as f64, 1.959963984540054_f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// P(a > b) + 0.5 P(a == b) over all pairs.
pub fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut s = 0.0;
    for &p in pos {
        for &n in neg {
            s += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    s / (pos.len() * neg.len()).max(1) as f64
}

/// Goal specificity of a square score matrix, `scores[i][j]` being episode `i` scored toward
/// goal `j` (episode `i`'s own goal is `j == i`): for each episode, the share of the other goals
/// its own goal outscores (ties counting half), averaged over the episodes. 1 when every
/// episode prefers its own goal, 0.5 when the goals are interchangeable; 0.5 for fewer than two
/// episodes. Rows are compared within themselves, so an episode that scores high toward every
/// goal weighs no more than one that scores low.
pub fn own_vs_other_auc(scores: &[Vec<f64>]) -> f64 {
    let n = scores.len();
    if n < 2 {
        return 0.5;
    }
    let per_row: Vec<f64> = scores
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let others: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| row[j]).collect();
            auc(&[row[i]], &others)
        })
        .collect();
    per_row.iter().sum::<f64>() / n as f64
}

/// Ranks from 1, ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation of `a` and `b` (Pearson on ranks); `None` for fewer than 3
/// pairs, samples of different lengths, or a constant side.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma).powi(2);
        bb += (y - mb).powi(2);
    }
    if aa == 0.0 || bb == 0.0 {
        return None;
    }
    Some(ab / (aa * bb).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Own-vs-other AUC on matrices whose answer is known: a dominant diagonal, identical goals,
    /// an inverted diagonal, and one worked by hand (row 0 beats 1 of 2, row 1 ties 1 and beats
    /// 1, row 2 beats 0 of 2: (0.5 + 0.75 + 0) / 3).
    #[test]
    fn own_vs_other_closed_forms() {
        let eye: Vec<Vec<f64>> = (0..4)
            .map(|i| {
                (0..4)
                    .map(|j| if i == j { 1.0 } else { 0.2 * j as f64 })
                    .collect()
            })
            .collect();
        assert_eq!(own_vs_other_auc(&eye), 1.0);
        assert_eq!(own_vs_other_auc(&vec![vec![0.3; 5]; 5]), 0.5);
        let inv: Vec<Vec<f64>> = (0..3)
            .map(|i| (0..3).map(|j| if i == j { -1.0 } else { 0.0 }).collect())
            .collect();
        assert_eq!(own_vs_other_auc(&inv), 0.0);
        let hand = vec![
            vec![0.5, 0.9, 0.1],
            vec![0.4, 0.4, 0.3],
            vec![0.8, 0.7, 0.1],
        ];
        assert!((own_vs_other_auc(&hand) - 1.25 / 3.0).abs() < 1e-12);
        assert_eq!(own_vs_other_auc(&[vec![1.0]]), 0.5);
    }

    /// Wilson's interval against values computed by hand from its formula.
    #[test]
    fn wilson_matches_hand_computed_intervals() {
        // 11 of 50: p = 0.22, z = 1.96: centre 0.2400, half 0.1124.
        let (lo, hi) = wilson(11, 50);
        assert!(
            (lo - 0.1275).abs() < 5e-4 && (hi - 0.3524).abs() < 5e-4,
            "{lo} {hi}"
        );
        // All successes: the upper end is 1, the lower (n / (n + z^2)) = 50 / 53.84.
        let (lo, hi) = wilson(50, 50);
        assert!((lo - 0.9287).abs() < 5e-4 && hi == 1.0, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.25) - 1.75).abs() < 1e-12);
        assert_eq!(median(&v), 2.5);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn hand_values() {
        assert_eq!(auc(&[2.0, 3.0], &[1.0, 2.0]), (1.0 + 1.0 + 1.0 + 0.5) / 4.0);
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), vec![2.5, 4.0, 2.5, 1.0]);
        // Monotone: 1; reversed: -1; any monotone transform keeps it.
        assert!(
            (spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 4.0, 9.0, 16.0]).unwrap() - 1.0).abs() < 1e-12
        );
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        // d = (0, 0, -1, 1): 1 - 6 * 2 / (4 * 15) = 0.8.
        assert!(
            (spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 4.0, 3.0]).unwrap() - 0.8).abs() < 1e-12
        );
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }
}
