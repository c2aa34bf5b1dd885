//! The table map's unit tests.

use super::field_rgba;
use genreward_record::picture::colormap;
use genreward_reward::field::RewardField;
use genreward_reward::field::{FieldGrid, FieldSubject};

/// Cell (i, j) lands at column i, row ny - 1 - j (largest y on top), in the colour of its
/// place in the field's range.
#[test]
fn cells_map_to_pixels_with_y_up() {
    let grid = FieldGrid {
        x: [-0.3, 0.3],
        y: [0.4, 0.9],
        nx: 3,
        ny: 2,
    };
    let values = vec![0.0, 1.0, 2.0, 3.0, 4.0, 10.0];
    let field = RewardField {
        grid,
        subject: FieldSubject::Hand,
        values,
        ms: 0.0,
    };
    let (w, h, rgba) = field_rgba(&field);
    assert_eq!((w, h, rgba.len()), (3, 2, 24));
    let px = |x: usize, y: usize| &rgba[(y * 3 + x) * 4..(y * 3 + x) * 4 + 4];
    // Cell (2, 1), the largest value, top right; cell (0, 0), the smallest, bottom left.
    let top = colormap(1.0);
    assert_eq!(px(2, 0), &[top[0], top[1], top[2], 153]);
    let low = colormap(0.0);
    assert_eq!(px(0, 1), &[low[0], low[1], low[2], 153]);
    let mid = colormap(0.3);
    assert_eq!(
        px(0, 0),
        &[mid[0], mid[1], mid[2], 153],
        "cell (0, 1) holds 3"
    );
}
