//! serde helpers for the reports' numbers.

use serde::{Deserialize, Deserializer};

/// A number that serde_json writes as `null` when it is not finite: read back as NaN.
pub fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// `Some(v)` for a finite `v`, else `None` (what the reports write as `null`).
pub fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}
