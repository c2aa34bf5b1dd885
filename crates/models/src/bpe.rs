//! CLIP's byte-level BPE tokenizer (OpenCLIP's `SimpleTokenizer`), read from the merges file a
//! user's CLIP download carries: OpenCLIP's `bpe_simple_vocab_16e6.txt.gz` or Hugging Face's
//! `merges.txt` (the same list; the vocabulary follows from it).
//!
//! Text is cleaned as OpenCLIP's default does (HTML entities unescaped, whitespace collapsed,
//! lower-cased) except for `ftfy`'s repair of broken Unicode, which is not reproduced: text
//! that is already valid Unicode (our task sentences) tokenizes the same.

use crate::weights::WeightError;
use regex::Regex;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Merges OpenCLIP reads from its file (49152 tokens - 256 bytes - 2 specials).
const MAX_MERGES: usize = 49152 - 256 - 2;
pub const SOT: &str = "<start_of_text>";
pub const EOT: &str = "<end_of_text>";

/// The tokenizer.
pub struct BpeTokenizer {
    byte_char: [char; 256],
    encoder: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    pattern: Regex,
    pub sot: u32,
    pub eot: u32,
}

/// GPT-2's reversible map from bytes to printable characters.
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let mut bs: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    bs.into_iter()
        .zip(cs)
        .map(|(b, c)| (b as u8, char::from_u32(c).expect("valid char")))
        .collect()
}

/// The merges file in `dir`: `bpe_simple_vocab_16e6.txt.gz`, any other `*.txt.gz`, or
/// `merges.txt`.
pub fn find_vocab(dir: &Path) -> Result<PathBuf, WeightError> {
    let named = dir.join("bpe_simple_vocab_16e6.txt.gz");
    if named.is_file() {
        return Ok(named);
    }
    let merges = dir.join("merges.txt");
    if merges.is_file() {
        return Ok(merges);
    }
    let mut gz: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| WeightError::Read {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".txt.gz"))
        .collect();
    gz.sort();
    gz.into_iter().next().ok_or_else(|| {
        WeightError::Invalid(format!(
            "no CLIP vocabulary in '{}' (bpe_simple_vocab_16e6.txt.gz or merges.txt)",
            dir.display()
        ))
    })
}

impl BpeTokenizer {
    /// Reads a merges file (`.gz` or plain text; the first line is a header).
    pub fn load(path: &Path) -> Result<Self, WeightError> {
        let raw = std::fs::read(path).map_err(|e| WeightError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let text = if path.extension().is_some_and(|e| e == "gz") {
            let mut s = String::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut s)
                .map_err(|e| WeightError::Corrupt {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            s
        } else {
            String::from_utf8(raw).map_err(|e| WeightError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?
        };
        Self::from_merges_text(&text).map_err(|reason| WeightError::Corrupt {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// From the merges file's text.
    pub fn from_merges_text(text: &str) -> Result<Self, String> {
        let lines: Vec<&str> = text.split('\n').collect();
        let end = lines.len().min(MAX_MERGES + 1);
        let mut merges = Vec::new();
        for (i, l) in lines[1.min(lines.len())..end].iter().enumerate() {
            let l = l.trim_end_matches('\r');
            if l.is_empty() && i + 2 == end {
                break; // a trailing newline
            }
            let mut parts = l.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) => merges.push((a.to_string(), b.to_string())),
                _ => return Err(format!("line {} is not a merge: '{l}'", i + 2)),
            }
        }
        if merges.is_empty() {
            return Err("no merges".into());
        }
        let table = bytes_to_unicode();
        let mut byte_char = ['\0'; 256];
        for &(b, c) in &table {
            byte_char[b as usize] = c;
        }
        let mut vocab: Vec<String> = table.iter().map(|&(_, c)| c.to_string()).collect();
        vocab.extend(table.iter().map(|&(_, c)| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push(SOT.into());
        vocab.push(EOT.into());
        let encoder: HashMap<String, u32> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as u32))
            .collect();
        let ranks = merges
            .into_iter()
            .enumerate()
            .map(|(i, m)| (m, i))
            .collect();
        let pattern = Regex::new(
            r"(?i)<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
        )
        .expect("static pattern");
        Ok(BpeTokenizer {
            byte_char,
            sot: encoder[SOT],
            eot: encoder[EOT],
            encoder,
            ranks,
            pattern,
        })
    }

    /// Size of the vocabulary (ids are below it).
    pub fn vocab_size(&self) -> usize {
        self.encoder.len()
    }

    /// The BPE pieces of one pre-token (already mapped to byte characters).
    fn bpe(&self, token: &str) -> Vec<String> {
        if token == SOT || token == EOT {
            return vec![token.to_string()];
        }
        let chars: Vec<char> = token.chars().collect();
        let mut word: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
        if let Some(last) = word.last_mut() {
            last.push_str("</w>");
        }
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|p| {
                    self.ranks
                        .get(&(p[0].clone(), p[1].clone()))
                        .map(|&r| (r, p[0].clone(), p[1].clone()))
                })
                .min_by_key(|(r, _, _)| *r);
            let Some((_, first, second)) = best else {
                break;
            };
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(word[i].clone());
                    i += 1;
                }
            }
            word = merged;
        }
        word
    }

    /// Token ids of `text` (no start or end token).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let text = clean(text);
        let mut ids = Vec::new();
        for m in self.pattern.find_iter(&text) {
            let mapped: String = m
                .as_str()
                .bytes()
                .map(|b| self.byte_char[b as usize])
                .collect();
            for piece in self.bpe(&mapped) {
                if let Some(&id) = self.encoder.get(&piece) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// `[SOT] + encode(text) + [EOT]`, cut to `context` (the last kept token made EOT) and padded
    /// with zeros, as OpenCLIP's tokenizer returns it.
    pub fn tokenize(&self, text: &str, context: usize) -> Vec<u32> {
        let mut t = vec![self.sot];
        t.extend(self.encode(text));
        t.push(self.eot);
        if t.len() > context {
            t.truncate(context);
            t[context - 1] = self.eot;
        }
        t.resize(context, 0);
        t
    }
}

/// OpenCLIP's default cleaning without `ftfy`: HTML entities unescaped (twice), whitespace
/// collapsed to single spaces and trimmed, lower-cased.
pub fn clean(text: &str) -> String {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&amp;", "&")
    };
    let t = unescape(&unescape(text));
    t.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
