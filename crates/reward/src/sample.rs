//! Uniform frame sampling.
//!
//! From `n` frames the reward takes `k` (16, [`WINDOW`]) at indices
//!
//! ```text
//! i_j = floor(j * (n - 1) / (k - 1)),   j = 0, 1, ..., k - 1
//! ```
//!
//! computed in exact integer arithmetic: the first and the last frame are always taken, the gaps
//! differ by at most one frame, and with fewer than `k` frames some are repeated (each at least
//! once when `n <= k`). For `n = 256`, `k = 16`: 0, 17, 34, ..., 238, 255.

/// Frames per window the video reward encodes (the paper's 16).
pub const WINDOW: usize = 16;

/// The `k` indices sampled uniformly from `n` frames (see the module docs); none when `n` or `k`
/// is 0.
pub fn uniform_indices(n: usize, k: usize) -> Vec<usize> {
    if n == 0 || k == 0 {
        return Vec::new();
    }
    if k == 1 {
        return vec![n - 1];
    }
    (0..k).map(|j| j * (n - 1) / (k - 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_indices() {
        assert_eq!(
            uniform_indices(256, 16),
            vec![0, 17, 34, 51, 68, 85, 102, 119, 136, 153, 170, 187, 204, 221, 238, 255]
        );
        assert_eq!(uniform_indices(16, 16), (0..16).collect::<Vec<_>>());
        assert_eq!(uniform_indices(1, 16), vec![0; 16]);
        // 31 frames: j * 30 / 15 = 2j.
        assert_eq!(
            uniform_indices(31, 16),
            (0..16).map(|j| 2 * j).collect::<Vec<_>>()
        );
        assert_eq!(uniform_indices(5, 3), vec![0, 2, 4]);
    }

    #[test]
    fn first_last_sorted_and_every_frame_when_short() {
        for n in 1..300 {
            let idx = uniform_indices(n, WINDOW);
            assert_eq!(idx.len(), WINDOW);
            assert_eq!(idx[0], 0);
            assert_eq!(*idx.last().unwrap(), n - 1);
            assert!(idx.windows(2).all(|w| w[0] <= w[1]));
            if n <= WINDOW {
                assert!((0..n).all(|i| idx.contains(&i)), "n={n}: {idx:?}");
            } else {
                let gaps: Vec<usize> = idx.windows(2).map(|w| w[1] - w[0]).collect();
                let (lo, hi) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
                assert!(hi - lo <= 1, "n={n}: gaps {gaps:?}");
            }
        }
    }
}
