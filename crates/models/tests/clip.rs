//! CLIP against OpenCLIP itself: a tiny random-weight model (`tests/fixtures/clip_tiny`, made by
//! `scripts/make_vit_fixtures.py` with open_clip 3.3.0) gives the same token ids, text embeddings
//! and image embeddings here; broken weights are one-line errors.

use burn::tensor::{Tensor, TensorData};
use genreward_models::backend::Cpu;
use genreward_models::clip::ClipModel;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip_tiny")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("expected.json")).unwrap())
        .unwrap()
}

fn rows(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

fn to_rows(t: Tensor<Cpu, 2>) -> Vec<Vec<f32>> {
    let [n, d] = t.dims();
    let v: Vec<f32> = t.into_data().convert::<f32>().to_vec().unwrap();
    (0..n).map(|i| v[i * d..(i + 1) * d].to_vec()).collect()
}

/// Largest |a - b| over all entries, relative to the largest |b|.
fn rel_err(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().flatten().fold(0f32, |m, x| m.max(x.abs()));
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn model() -> ClipModel<Cpu> {
    ClipModel::<Cpu>::load(&fixture(), &Default::default()).unwrap()
}

#[test]
fn tokens_match_open_clip() {
    let m = model();
    let e = expected();
    let texts: Vec<&str> = e["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let want: Vec<Vec<u32>> = e["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        })
        .collect();
    let got = m.tokenize(&texts);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "text {i}: {:?}", texts[i]);
    }
    assert_eq!(
        m.tokenizer().vocab_size(),
        e["vocab_size"].as_u64().unwrap() as usize
    );
    // The long text is cut to 77 tokens ending with the end token.
    assert_eq!(got[9][76], m.tokenizer().eot);
}

#[test]
fn embeddings_match_open_clip() {
    let m = model();
    let e = expected();
    assert_eq!(
        (
            m.config.image_size,
            m.config.patch_size,
            m.config.vision_heads
        ),
        (32, 8, 2)
    );
    let texts: Vec<&str> = e["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let err = rel_err(
        &to_rows(m.encode_text(&texts)),
        &rows(&e["text_embeddings"]),
    );
    eprintln!("text embeddings: max error {err:.2e} of the largest value");
    assert!(err < 1e-4, "text embeddings: relative error {err}");

    let (shape, px) = genreward_record::read_npy_f32(&fixture().join("pixels.npy")).unwrap();
    let x = Tensor::<Cpu, 4>::from_data(
        TensorData::new(px, [shape[0], 3, 32, 32]),
        &Default::default(),
    );
    let err = rel_err(&to_rows(m.encode_pixels(x)), &rows(&e["image_embeddings"]));
    eprintln!("image embeddings: max error {err:.2e} of the largest value");
    assert!(err < 1e-4, "image embeddings: relative error {err}");

    // uint8 frames through our preprocessing (Pillow's bicubic 20 -> 32 reproduced, CLIP's
    // normalisation) against OpenCLIP's own pipeline: the same pixels up to float rounding.
    let (shape, u8s) = genreward_record::read_npy_u8(&fixture().join("images_u8.npy")).unwrap();
    let n = shape[0];
    let frame = 20 * 20 * 3;
    let frames: Vec<&[u8]> = (0..n).map(|i| &u8s[i * frame..(i + 1) * frame]).collect();
    let (_, pre) =
        genreward_record::read_npy_f32(&fixture().join("images_preprocessed.npy")).unwrap();
    let ours: Vec<f32> = genreward_models::vit::frames_to_pixels::<Cpu>(
        &frames,
        20,
        20,
        32,
        m.config.mean,
        m.config.std,
        &Default::default(),
    )
    .unwrap()
    .into_data()
    .to_vec()
    .unwrap();
    let worst = ours
        .iter()
        .zip(&pre)
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
    // One uint8 level is 1/255/std ~ 0.015: not one level apart anywhere.
    assert!(
        worst < 1e-4,
        "preprocessing differs from OpenCLIP's by {worst}"
    );
    let err = rel_err(
        &to_rows(m.encode_frames(&frames, 20, 20).unwrap()),
        &rows(&e["u8_image_embeddings"]),
    );
    eprintln!("uint8 frames: pixels within {worst:.1e}, embeddings {err:.2e}");
    assert!(
        err < 1e-4,
        "embeddings of uint8 frames: relative error {err}"
    );

    // Scores are cosines.
    let s = m.score_frames(&frames, 20, 20, texts[1]).unwrap();
    assert_eq!(s.len(), n);
    assert!(s.iter().all(|v| v.abs() <= 1.0 + 1e-5));

    // A frame of the wrong size is an error that says which and why, not a panic.
    let short = &frames[1][..frame - 3];
    let e = m
        .score_frames(&[frames[0], short], 20, 20, texts[1])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "frame 1 holds 1197 bytes; a 20x20 RGB frame holds 1200"
    );
}

#[test]
fn bad_weights_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = |p: &Path| match ClipModel::<Cpu>::load(p, &Default::default()) {
        Ok(_) => panic!("loaded {}", p.display()),
        Err(e) => e.to_string(),
    };
    assert!(err(&d.join("nope")).contains("not found"));
    assert!(err(d).contains("no .safetensors file"));
    for f in ["bpe_simple_vocab_16e6.txt.gz", "open_clip_config.json"] {
        std::fs::copy(fixture().join(f), d.join(f)).unwrap();
    }
    // Truncated weights.
    let bytes = std::fs::read(fixture().join("open_clip_model.safetensors")).unwrap();
    std::fs::write(d.join("m.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let e = err(d);
    assert!(e.contains("not a valid safetensors file"), "{e}");
    // Weights of another model: a DINO checkpoint has no CLIP tensors.
    std::fs::copy(
        fixture().join("../dinov2_tiny/model.safetensors"),
        d.join("m.safetensors"),
    )
    .unwrap();
    let e = err(d);
    assert!(e.contains("has no tensor 'visual.conv1.weight'"), "{e}");
    assert!(!e.contains('\n'));
}
