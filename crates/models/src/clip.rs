//! CLIP's image and text towers in the OpenCLIP ViT layout (ViT-B/32 by default), loaded from a
//! user's weights folder: `open_clip_model.safetensors` (any `*.safetensors`; OpenCLIP's
//! state-dict names), `open_clip_config.json` when present (its `model_cfg`; without it the
//! sizes are read off the tensors, with 64-wide heads), and the BPE vocabulary
//! (`bpe_simple_vocab_16e6.txt.gz` or `merges.txt`).
//!
//! GenReward scores every sampled frame of the goal video against the task's sentence and takes
//! the best as the goal frame ([`ClipModel::score_frames`]). Checked against OpenCLIP itself on a
//! tiny random-weight model (`tests/clip.rs`, fixtures made by `scripts/make_vit_fixtures.py`).

use crate::bpe::{find_vocab, BpeTokenizer};
use crate::frames::FrameSizeError;
use crate::vit::{attention, frames_to_pixels, patchify, Act, LayerNorm, Linear};
use crate::weights::{find_safetensors, WeightError, WeightFile};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use std::path::Path;

/// OpenAI's image normalisation, which OpenCLIP's models use.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
pub const CLIP_STD: [f32; 3] = [0.268_629_55, 0.261_302_6, 0.275_777_1];

/// Sizes of a CLIP model.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipConfig {
    pub embed_dim: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub vision_width: usize,
    pub vision_layers: usize,
    pub vision_heads: usize,
    pub context_length: usize,
    pub vocab_size: usize,
    pub text_width: usize,
    pub text_layers: usize,
    pub text_heads: usize,
    pub act: Act,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// A pre-norm transformer block (OpenCLIP's `ResidualAttentionBlock`).
struct Block<B: Backend> {
    ln_1: LayerNorm<B>,
    qkv: Linear<B>,
    out: Linear<B>,
    ln_2: LayerNorm<B>,
    fc: Linear<B>,
    proj: Linear<B>,
}

impl<B: Backend> Block<B> {
    fn load(
        f: &WeightFile,
        p: &str,
        w: usize,
        mlp: usize,
        dev: &B::Device,
    ) -> Result<Self, WeightError> {
        let qkv_w = f.tensor::<B, 2>(&format!("{p}.attn.in_proj_weight"), [3 * w, w], dev)?;
        let qkv_b = f.tensor::<B, 1>(&format!("{p}.attn.in_proj_bias"), [3 * w], dev)?;
        Ok(Block {
            ln_1: LayerNorm::load(f, &format!("{p}.ln_1"), w, 1e-5, dev)?,
            qkv: Linear {
                w: qkv_w.transpose(),
                b: Some(qkv_b),
            },
            out: Linear::load(f, &format!("{p}.attn.out_proj"), w, w, true, dev)?,
            ln_2: LayerNorm::load(f, &format!("{p}.ln_2"), w, 1e-5, dev)?,
            fc: Linear::load(f, &format!("{p}.mlp.c_fc"), w, mlp, true, dev)?,
            proj: Linear::load(f, &format!("{p}.mlp.c_proj"), mlp, w, true, dev)?,
        })
    }

    fn forward(
        &self,
        x: Tensor<B, 3>,
        heads: usize,
        act: Act,
        mask: Option<&Tensor<B, 2>>,
    ) -> Tensor<B, 3> {
        let w = x.dims()[2];
        let qkv = self.qkv.forward(self.ln_1.forward(x.clone()));
        let q = qkv.clone().narrow(2, 0, w);
        let k = qkv.clone().narrow(2, w, w);
        let v = qkv.narrow(2, 2 * w, w);
        let x = x + self.out.forward(attention(q, k, v, heads, mask));
        let h = act.apply(self.fc.forward(self.ln_2.forward(x.clone())));
        x + self.proj.forward(h)
    }
}

/// CLIP's two towers.
pub struct ClipModel<B: Backend> {
    pub config: ClipConfig,
    tokenizer: BpeTokenizer,
    conv1: Tensor<B, 4>,
    class_embedding: Tensor<B, 1>,
    vis_pos: Tensor<B, 2>,
    ln_pre: LayerNorm<B>,
    vis_blocks: Vec<Block<B>>,
    ln_post: LayerNorm<B>,
    vis_proj: Linear<B>,
    token_embedding: Tensor<B, 2>,
    text_pos: Tensor<B, 2>,
    text_blocks: Vec<Block<B>>,
    ln_final: LayerNorm<B>,
    text_proj: Linear<B>,
    causal: Tensor<B, 2>,
    pub logit_scale: f32,
    device: B::Device,
}

fn count_blocks(f: &WeightFile, prefix: &str) -> usize {
    (0..)
        .take_while(|i| f.has(&format!("{prefix}.{i}.ln_1.weight")))
        .count()
}

/// `open_clip_config.json` beside the weights (`null` when there is none).
fn read_open_clip_config(dir: &Path) -> Result<serde_json::Value, WeightError> {
    let path = dir.join("open_clip_config.json");
    match std::fs::read_to_string(&path) {
        Ok(s) => serde_json::from_str(&s).map_err(|e| WeightError::Corrupt {
            path,
            reason: e.to_string(),
        }),
        Err(_) => Ok(serde_json::Value::Null),
    }
}

/// The text tower's attention mask: 0 on and below the diagonal, -1e9 above.
fn causal_mask<B: Backend>(ctx: usize, dev: &B::Device) -> Tensor<B, 2> {
    let mut mask = vec![0f32; ctx * ctx];
    for r in 0..ctx {
        for c in r + 1..ctx {
            mask[r * ctx + c] = -1e9;
        }
    }
    Tensor::from_data(TensorData::new(mask, [ctx, ctx]), dev)
}

/// `exp(logit_scale)` from the weights, or CLIP's 100 when they hold none.
fn read_logit_scale(f: &WeightFile) -> Result<f32, WeightError> {
    if !f.has("logit_scale") {
        return Ok(100.0);
    }
    Ok(f.values("logit_scale")?
        .0
        .first()
        .copied()
        .unwrap_or(0.0)
        .exp())
}

fn cfg_usize(v: &serde_json::Value, key: &str, default: usize) -> usize {
    v.get(key)
        .and_then(|x| x.as_u64())
        .map(|x| x as usize)
        .unwrap_or(default)
}

impl<B: Backend> ClipModel<B> {
    /// Loads the model in `dir` (see the module docs).
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self, WeightError> {
        let path = find_safetensors(dir)?;
        let f = WeightFile::open(&path)?;
        let cfg_json = read_open_clip_config(dir)?;
        let model_cfg = &cfg_json["model_cfg"];
        let (vc, tc) = (&model_cfg["vision_cfg"], &model_cfg["text_cfg"]);
        // Sizes from the tensors; what they cannot tell from the config (or OpenCLIP's defaults).
        let conv = f.shape("visual.conv1.weight")?;
        if conv.len() != 4 || conv[1] != 3 || conv[2] != conv[3] {
            return Err(WeightError::Invalid(format!(
                "'{}': visual.conv1.weight has shape {conv:?}, not a ViT patch embedding [width, 3, p, p]",
                path.display()
            )));
        }
        let (vw, patch) = (conv[0], conv[2]);
        let npos = f.shape("visual.positional_embedding")?[0];
        let grid = ((npos.saturating_sub(1)) as f64).sqrt().round() as usize;
        if grid * grid + 1 != npos {
            return Err(WeightError::Invalid(format!(
                "'{}': visual.positional_embedding has {npos} rows, not 1 + a square grid",
                path.display()
            )));
        }
        let tokenizer = BpeTokenizer::load(&find_vocab(dir)?)?;
        let tok = f.shape("token_embedding.weight")?;
        let (vocab_size, tw) = (tok[0], tok[1]);
        if vocab_size < tokenizer.vocab_size() {
            return Err(WeightError::Invalid(format!(
                "'{}': the token embedding has {vocab_size} rows but the vocabulary has {} tokens",
                path.display(),
                tokenizer.vocab_size()
            )));
        }
        let embed_dim = f.shape("visual.proj")?[1];
        let head_width = cfg_usize(vc, "head_width", 64);
        let config = ClipConfig {
            embed_dim,
            image_size: grid * patch,
            patch_size: patch,
            vision_width: vw,
            vision_layers: count_blocks(&f, "visual.transformer.resblocks"),
            vision_heads: (vw / head_width).max(1),
            context_length: f.shape("positional_embedding")?[0],
            vocab_size,
            text_width: tw,
            text_layers: count_blocks(&f, "transformer.resblocks"),
            text_heads: cfg_usize(tc, "heads", (tw / 64).max(1)),
            act: if model_cfg["quick_gelu"].as_bool().unwrap_or(false) {
                Act::QuickGelu
            } else {
                Act::Gelu
            },
            mean: read3(&cfg_json["preprocess_cfg"]["mean"]).unwrap_or(CLIP_MEAN),
            std: read3(&cfg_json["preprocess_cfg"]["std"]).unwrap_or(CLIP_STD),
        };
        if config.vision_layers == 0 || config.text_layers == 0 {
            return Err(WeightError::Invalid(format!(
                "'{}' has no transformer blocks (visual.transformer.resblocks.N, transformer.resblocks.N)",
                path.display()
            )));
        }
        let vm =
            (vw as f64 * model_cfg["vision_cfg"]["mlp_ratio"].as_f64().unwrap_or(4.0)) as usize;
        let dev = device;
        let vis_blocks = (0..config.vision_layers)
            .map(|i| {
                Block::load(
                    &f,
                    &format!("visual.transformer.resblocks.{i}"),
                    vw,
                    vm,
                    dev,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let text_blocks = (0..config.text_layers)
            .map(|i| Block::load(&f, &format!("transformer.resblocks.{i}"), tw, 4 * tw, dev))
            .collect::<Result<Vec<_>, _>>()?;
        let ctx = config.context_length;
        let logit_scale = read_logit_scale(&f)?;
        Ok(ClipModel {
            conv1: f.tensor("visual.conv1.weight", [vw, 3, patch, patch], dev)?,
            class_embedding: f.tensor("visual.class_embedding", [vw], dev)?,
            vis_pos: f.tensor("visual.positional_embedding", [npos, vw], dev)?,
            ln_pre: LayerNorm::load(&f, "visual.ln_pre", vw, 1e-5, dev)?,
            vis_blocks,
            ln_post: LayerNorm::load(&f, "visual.ln_post", vw, 1e-5, dev)?,
            vis_proj: Linear::from_in_out(f.tensor("visual.proj", [vw, embed_dim], dev)?),
            token_embedding: f.tensor("token_embedding.weight", [vocab_size, tw], dev)?,
            text_pos: f.tensor("positional_embedding", [ctx, tw], dev)?,
            text_blocks,
            ln_final: LayerNorm::load(&f, "ln_final", tw, 1e-5, dev)?,
            text_proj: Linear::from_in_out(f.tensor("text_projection", [tw, embed_dim], dev)?),
            causal: causal_mask(ctx, dev),
            logit_scale,
            tokenizer,
            config,
            device: device.clone(),
        })
    }

    /// The tokenizer of this model.
    pub fn tokenizer(&self) -> &BpeTokenizer {
        &self.tokenizer
    }

    /// Image embeddings (not normalised) of `[N, 3, S, S]` pixels already preprocessed (resized
    /// to the model's size and normalised).
    pub fn encode_pixels(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let n = x.dims()[0];
        let w = self.config.vision_width;
        let tokens = patchify(x, &self.conv1, None);
        let cls = self
            .class_embedding
            .clone()
            .reshape([1, 1, w])
            .repeat_dim(0, n);
        let mut h = Tensor::cat(vec![cls, tokens], 1) + self.vis_pos.clone().unsqueeze::<3>();
        h = self.ln_pre.forward(h);
        for b in &self.vis_blocks {
            h = b.forward(h, self.config.vision_heads, self.config.act, None);
        }
        let pooled = self.ln_post.forward(h.narrow(1, 0, 1));
        self.vis_proj
            .forward(pooled)
            .reshape([n, self.config.embed_dim])
    }

    /// Image embeddings of RGB frames (`w x h`, any size): centre-cropped, resized (bicubic) and
    /// normalised as OpenCLIP's preprocessing does, then encoded.
    /// A frame whose bytes are not `w x h x 3` is a [`FrameSizeError`].
    pub fn encode_frames(
        &self,
        frames: &[&[u8]],
        w: u32,
        h: u32,
    ) -> Result<Tensor<B, 2>, FrameSizeError> {
        let s = self.config.image_size as u32;
        let px = frames_to_pixels::<B>(
            frames,
            w,
            h,
            s,
            self.config.mean,
            self.config.std,
            &self.device,
        );
        Ok(self.encode_pixels(px?))
    }

    /// Token ids of `texts`, `[N, context]`.
    pub fn tokenize(&self, texts: &[&str]) -> Vec<Vec<u32>> {
        texts
            .iter()
            .map(|t| self.tokenizer.tokenize(t, self.config.context_length))
            .collect()
    }

    /// Text embeddings (not normalised) of token ids from [`tokenize`](Self::tokenize).
    pub fn encode_tokens(&self, ids: &[Vec<u32>]) -> Tensor<B, 2> {
        let (n, ctx, w) = (
            ids.len(),
            self.config.context_length,
            self.config.text_width,
        );
        let flat: Vec<i64> = ids.iter().flatten().map(|&i| i as i64).collect();
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(flat, [n * ctx]), &self.device);
        let mut h = self
            .token_embedding
            .clone()
            .select(0, idx)
            .reshape([n, ctx, w])
            + self.text_pos.clone().unsqueeze::<3>();
        for b in &self.text_blocks {
            h = b.forward(
                h,
                self.config.text_heads,
                self.config.act,
                Some(&self.causal),
            );
        }
        h = self.ln_final.forward(h);
        // The features at the end token: the largest id of each row (OpenCLIP's argmax pooling).
        let rows: Vec<Tensor<B, 3>> = ids
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let eot = row
                    .iter()
                    .enumerate()
                    .max_by_key(|(k, &v)| (v, std::cmp::Reverse(*k)))
                    .map(|(k, _)| k)
                    .unwrap_or(0);
                h.clone().narrow(0, i, 1).narrow(1, eot, 1)
            })
            .collect();
        self.text_proj
            .forward(Tensor::cat(rows, 0))
            .reshape([n, self.config.embed_dim])
    }

    /// Text embeddings (not normalised) of `texts`.
    pub fn encode_text(&self, texts: &[&str]) -> Tensor<B, 2> {
        self.encode_tokens(&self.tokenize(texts))
    }

    /// The cosine similarity of each frame with `text` (CLIP's score before the logit scale).
    pub fn score_frames(
        &self,
        frames: &[&[u8]],
        w: u32,
        h: u32,
        text: &str,
    ) -> Result<Vec<f32>, FrameSizeError> {
        let img = normalize(self.encode_frames(frames, w, h)?);
        let txt = normalize(self.encode_text(&[text]));
        Ok(img
            .matmul(txt.transpose())
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32"))
    }
}

/// Rows scaled to unit length.
pub fn normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let n = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    x / n
}

fn read3(v: &serde_json::Value) -> Option<[f32; 3]> {
    let a = v.as_array()?;
    if a.len() != 3 {
        return None;
    }
    Some([
        a[0].as_f64()? as f32,
        a[1].as_f64()? as f32,
        a[2].as_f64()? as f32,
    ])
}
