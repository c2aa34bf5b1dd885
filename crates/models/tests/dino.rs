//! DINOv2 and DINOv3 against transformers itself: tiny random-weight `Dinov2Model` and
//! `DINOv3ViTModel`s (`tests/fixtures/dinov{2,3,3_gated}_tiny`, made by
//! `scripts/make_vit_fixtures.py` with transformers 5.17) give the same CLS features here, at
//! their own size and at a larger input (DINOv2's position embeddings interpolated, DINOv3's
//! rotary tables recomputed for a 6x6 grid); DINOv3 with registers and rotary embeddings, plain
//! and gated MLP.

use burn::tensor::{Tensor, TensorData};
use genreward_models::backend::Cpu;
use genreward_models::dino::DinoModel;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn dinov2_matches_transformers() {
    matches_transformers("dinov2_tiny", "dinov2");
}

#[test]
fn dinov3_matches_transformers() {
    matches_transformers("dinov3_tiny", "dinov3");
}

#[test]
fn dinov3_gated_mlp_matches_transformers() {
    matches_transformers("dinov3_gated_tiny", "dinov3");
}

fn matches_transformers(name: &str, layout: &str) {
    let dir = fixtures().join(name);
    let m = DinoModel::<Cpu>::load(&dir, &Default::default()).unwrap();
    assert_eq!(m.config.layout.name(), layout);
    assert_eq!(m.feature_dim(), 64);
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    for side in [32usize, 48] {
        let (shape, px) =
            genreward_record::read_npy_f32(&dir.join(format!("pixels_{side}.npy"))).unwrap();
        let x = Tensor::<Cpu, 4>::from_data(
            TensorData::new(px, [shape[0], 3, side, side]),
            &Default::default(),
        );
        let got: Vec<f32> = m.encode_pixels(x).into_data().to_vec().unwrap();
        let want: Vec<f32> = e[format!("pooled_{side}")]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
            })
            .collect();
        assert_eq!(got.len(), want.len());
        let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        let err = got
            .iter()
            .zip(&want)
            .fold(0f32, |a, (x, y)| a.max((x - y).abs()))
            / scale;
        eprintln!("{name} {side}x{side}: max error {err:.2e} of the largest value");
        assert!(err < 1e-4, "{side}x{side}: relative error {err}");
    }
}

#[test]
fn wrong_folders_are_one_line_errors() {
    let err = |p: &Path| match DinoModel::<Cpu>::load(p, &Default::default()) {
        Ok(_) => panic!("loaded {}", p.display()),
        Err(e) => e.to_string(),
    };
    assert!(err(&fixtures().join("clip_tiny")).contains("config.json"));
    assert!(err(&fixtures().join("nope")).contains("cannot read"));
}
