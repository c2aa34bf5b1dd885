//! 3-vector helpers on `[f64; 3]`, shared by the rewards, the experts and the world.
//!
//! The operation order is fixed and part of the contract: sums run x, then y, then z, left to
//! right, as in numpy's `np.linalg.norm` on 3 elements, which is what makes the rewards and the
//! experts match Meta-World bit for bit (the parity fixtures check it).

/// `a + b`.
#[inline]
pub fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a - b`.
#[inline]
pub fn sub(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `‖v‖ = sqrt(x² + y² + z²)`.
#[inline]
pub fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// `sqrt(x² + y²)`.
#[inline]
pub fn norm2(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

/// `‖a − b‖`.
#[inline]
pub fn dist(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    norm(sub(a, b))
}

/// `‖(a − b)_{x,y}‖`.
#[inline]
pub fn dist_xy(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    norm2(a[0] - b[0], a[1] - b[1])
}

/// `‖(a − b)_{x,z}‖`.
#[inline]
pub fn dist_xz(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    norm2(a[0] - b[0], a[2] - b[2])
}

/// The first three values of `s`.
#[inline]
pub fn from_slice(s: &[f64]) -> [f64; 3] {
    [s[0], s[1], s[2]]
}
