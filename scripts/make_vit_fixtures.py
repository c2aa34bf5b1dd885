"""Tiny random-weight reference models for genreward's CLIP and DINO loaders, made once with the
reference implementations and committed under crates/models/tests/fixtures/.

- clip_tiny/: an OpenCLIP `CLIP` (the ViT-B/32 layout at toy size: vision width 64, 2 layers,
  patch 8 on 32x32 images; text width 32, 2 layers, a BPE vocabulary cut to its first 2000
  merges), saved as a user's download is laid out (open_clip_model.safetensors,
  open_clip_config.json, bpe_simple_vocab_16e6.txt.gz), with token ids, text embeddings and
  image embeddings (from preprocessed tensors and from uint8 images through open_clip's own
  preprocessing) in expected.json / *.npy.
- dinov2_tiny/, dinov3_tiny/, dinov3_gated_tiny/: transformers' Dinov2Model and
  DINOv3ViTModel at hidden size 64, 2 layers, patch 8, with every weight perturbed so layer
  scales and norms are not at their initial values; pooled CLS outputs for 32x32 and 48x48
  inputs.

Needs torch, open_clip_torch (3.x), transformers (>= 4.56), safetensors, numpy, pillow. Not run in
CI. Run: python3 scripts/make_vit_fixtures.py OUT_DIR   (then copy OUT_DIR/* into
crates/models/tests/fixtures/). genreward's machine has no torch; it was run once on a lent GPU
machine's CPU (see the README).
"""
import gzip
import json
import os
import sys

import numpy as np
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
torch.manual_seed(0)
np.random.seed(0)

TEXTS = [
    "a robot arm with its gripper at the target point",
    "a robot arm that has pushed the puck onto the goal spot",
    "a robot gripper holding the puck up in the air at the goal",
    "a robot gripper holding the puck lifted out of the hole",
    "a robot arm that has dropped the cube into the right bin",
    "a robot arm that has placed the block on the shelf",
    "a robot gripper lifting the nut off the peg",
    "  Mixed CASE, punctuation!! it's 42 o'clock;   tabs\tand\nnewlines ",
    "caf\u00e9 na\u00efve \u00fcber",
    " ".join(["long"] * 90),
]


def perturb(model, scale=0.05):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))


def save_np(path, a):
    np.save(path, np.ascontiguousarray(a))


def clip_fixture():
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer
    from safetensors.torch import save_file

    d = os.path.join(OUT, "clip_tiny")
    os.makedirs(d, exist_ok=True)
    full = gzip.open(open_clip.tokenizer.default_bpe()).read().decode("utf-8").split("\n")
    # Header line + 2000 merges, no trailing newline (as the real file's slice reads it).
    cut = "\n".join(full[:2001])
    vocab_path = os.path.join(d, "bpe_simple_vocab_16e6.txt.gz")
    with gzip.open(vocab_path, "wb") as f:
        f.write(cut.encode("utf-8"))
    tok = SimpleTokenizer(bpe_path=vocab_path)
    vocab_size = tok.vocab_size
    cfg = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": vocab_size, "width": 32, "heads": 2, "layers": 2},
    }
    model = open_clip.model.CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"])
    perturb(model)
    model.eval()
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(d, "open_clip_model.safetensors"))
    mean, std = open_clip.constants.OPENAI_DATASET_MEAN, open_clip.constants.OPENAI_DATASET_STD
    with open(os.path.join(d, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": cfg, "preprocess_cfg": {"mean": list(mean), "std": list(std)}}, f, indent=1)

    tokens = tok(TEXTS)
    with torch.no_grad():
        text_emb = model.encode_text(tokens).numpy()
        pixels = torch.randn(3, 3, 32, 32)
        img_emb = model.encode_image(pixels).numpy()
        # uint8 images of 20x20 through open_clip's own preprocessing (bicubic up to 32).
        from PIL import Image
        rng = np.random.default_rng(1)
        imgs = rng.integers(0, 256, size=(2, 20, 20, 3), dtype=np.uint8)
        imgs[:, 5:12, 3:15] = [200, 30, 30]
        pre = open_clip.transform.image_transform(32, is_train=False, mean=mean, std=std)
        pre_px = torch.stack([pre(Image.fromarray(i)) for i in imgs])
        pil_emb = model.encode_image(pre_px).numpy()
    save_np(os.path.join(d, "pixels.npy"), pixels.numpy().astype(np.float32))
    save_np(os.path.join(d, "images_u8.npy"), imgs)
    save_np(os.path.join(d, "images_preprocessed.npy"), pre_px.numpy().astype(np.float32))
    exp = {
        "texts": TEXTS,
        "tokens": tokens.tolist(),
        "text_embeddings": text_emb.tolist(),
        "image_embeddings": img_emb.tolist(),
        "u8_image_embeddings": pil_emb.tolist(),
        "logit_scale": float(model.logit_scale.exp()),
        "vocab_size": vocab_size,
        "open_clip_version": open_clip.__version__,
        "torch_version": torch.__version__,
    }
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(exp, f)
    print("clip ok", vocab_size)


def dino_fixture(name, make):
    import transformers

    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    model = make()
    perturb(model)
    model.eval()
    model.save_pretrained(d, safe_serialization=True)
    out = {"transformers_version": transformers.__version__}
    for side in (32, 48):
        px = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(side))
        with torch.no_grad():
            o = model(pixel_values=px)
        save_np(os.path.join(d, f"pixels_{side}.npy"), px.numpy().astype(np.float32))
        out[f"pooled_{side}"] = o.pooler_output.numpy().tolist()
        out[f"last_hidden_{side}_first_tokens"] = o.last_hidden_state[:, :3].numpy().tolist()
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(out, f)
    print(name, "ok")


def main():
    os.makedirs(OUT, exist_ok=True)
    for job in (
        clip_fixture,
        lambda: dino_fixture("dinov2_tiny", lambda: __import__("transformers").Dinov2Model(
            __import__("transformers").Dinov2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                                    mlp_ratio=2, patch_size=8, image_size=32))),
        lambda: dino_fixture("dinov3_tiny", lambda: __import__("transformers").DINOv3ViTModel(
            __import__("transformers").DINOv3ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                                       intermediate_size=128, patch_size=8, image_size=32,
                                                       num_register_tokens=4, use_gated_mlp=False))),
        lambda: dino_fixture("dinov3_gated_tiny", lambda: __import__("transformers").DINOv3ViTModel(
            __import__("transformers").DINOv3ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                                       intermediate_size=128, patch_size=8, image_size=32,
                                                       num_register_tokens=4, use_gated_mlp=True))),
    ):
        try:
            job()
        except Exception as e:  # one failing fixture must not lose the others
            import traceback
            traceback.print_exc()
            print("FAILED:", e)


if __name__ == "__main__":
    main()
