//! NumPy `.npy` (format version 1.0): stacks of uint8 RGB frames, and small float32 arrays
//! (states, actions, features).

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::RecordError;

const MAGIC: &[u8] = b"\x93NUMPY";
/// Magic (6) + version (2) + header length (2).
const PREAMBLE: usize = 10;

/// Streams `[H, W, 3]` uint8 frames into a `.npy` array of shape `[T, H, W, 3]`.
///
/// The header has room for a 20-digit T and is rewritten in place (same length) after every
/// frame, so the file is a valid array of the frames written so far at all times: a process
/// killed mid-recording (even by SIGKILL) leaves a file NumPy loads whole. Each frame goes to
/// the OS as it is written (no buffering in the process), then the header. [`NpyWriter::finish`]
/// (or dropping the writer) only flushes.
pub struct NpyWriter {
    path: PathBuf,
    height: u32,
    width: u32,
    frames: u64,
    header_len: usize,
    out: Option<File>,
}

/// The dict NumPy reads, e.g. `{'descr': '|u1', 'fortran_order': False, 'shape': (5, 4, 6, 3), }`.
fn header_dict(frames: u64, height: u32, width: u32) -> String {
    format!(
        "{{'descr': '|u1', 'fortran_order': False, 'shape': ({frames}, {height}, {width}, 3), }}"
    )
}

/// The full header (preamble + dict + space padding + `\n`), `total` bytes long.
fn header_bytes(frames: u64, height: u32, width: u32, total: usize) -> Vec<u8> {
    padded_header(&header_dict(frames, height, width), total)
}

/// Preamble + `dict` + space padding + `\n`, `total` bytes long.
fn padded_header(dict: &str, total: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&((total - PREAMBLE) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

impl NpyWriter {
    /// Creates `path` and writes the header of an array of 0 frames of `height x width x 3`.
    pub fn create(path: &Path, height: u32, width: u32) -> Result<NpyWriter, RecordError> {
        // Longest possible dict: T with 20 digits (u64::MAX); rounded up to 64 bytes in all.
        let longest = PREAMBLE + header_dict(u64::MAX, height, width).len() + 1;
        let header_len = longest.next_multiple_of(64);
        let mut out = File::create(path).map_err(|source| RecordError::Create {
            kind: "npy",
            path: path.to_path_buf(),
            source,
        })?;
        out.write_all(&header_bytes(0, height, width, header_len))
            .map_err(|e| RecordError::write(path, e))?;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            height,
            width,
            frames: 0,
            header_len,
            out: Some(out),
        })
    }

    /// Appends one frame of `height * width * 3` bytes, then updates the header's frame count.
    pub fn write_frame(&mut self, rgb: &[u8]) -> Result<(), RecordError> {
        let (w, h) = (self.width, self.height);
        if rgb.len() != w as usize * h as usize * 3 {
            return Err(RecordError::frame_size(&self.path, w, h, rgb.len()));
        }
        let out = self.out.as_mut().expect("only finish takes the file");
        let end = self.header_len as u64 + self.frames * rgb.len() as u64;
        let header = header_bytes(self.frames + 1, h, w, self.header_len);
        // Data first: a kill between the two writes leaves one frame more than the header
        // says, which readers keep (they count whole frames in the data).
        let result = out
            .write_all(rgb)
            .and_then(|_| out.seek(SeekFrom::Start(0)))
            .and_then(|_| out.write_all(&header))
            .and_then(|_| out.seek(SeekFrom::Start(end + rgb.len() as u64)));
        if let Err(e) = result {
            // Drop a partly written frame so the next one starts in the right place.
            let _ = out
                .set_len(end)
                .and_then(|_| out.seek(SeekFrom::Start(end)));
            return Err(RecordError::write(&self.path, e));
        }
        self.frames += 1;
        Ok(())
    }

    /// Number of frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes the file (the header already holds the final frame count).
    pub fn finish(mut self) -> Result<(), RecordError> {
        self.finish_inner()
    }

    fn finish_inner(&mut self) -> Result<(), RecordError> {
        let Some(mut out) = self.out.take() else {
            return Ok(());
        };
        out.flush().map_err(|e| RecordError::write(&self.path, e))
    }
}

impl Drop for NpyWriter {
    fn drop(&mut self) {
        let _ = self.finish_inner();
    }
}

/// Reads a C-ordered uint8 `.npy` file (format 1.0, 2.0 or 3.0): returns `(shape, data)`.
///
/// The first dimension (the frame count of a `[T, H, W, 3]` stack) is taken from the data, not
/// the header: a file cut short or left by a killed writer gives its whole frames, a partial
/// last frame dropped, and `shape[0]` says how many there are. Rejects other dtypes, Fortran
/// order, malformed headers and data that does not fit the other dimensions.
pub fn read_npy_u8(path: &Path) -> Result<(Vec<usize>, Vec<u8>), RecordError> {
    let (shape, data) = read_npy(path, &["|u1", "<u1", ">u1", "u1"], 1, "uint8", true)?;
    Ok((shape, data.to_vec()))
}

/// Reads a C-ordered little-endian float32 `.npy` file: returns `(shape, data)`.
///
/// These arrays are written whole ([`write_npy_f32`]), never streamed, so the data must match
/// the header's shape exactly.
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>), RecordError> {
    let (shape, data) = read_npy(path, &["<f4", "f4"], 4, "float32", false)?;
    let values = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, values))
}

/// Writes `data` as a C-ordered little-endian float32 `.npy` array of `shape`.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), RecordError> {
    let count: usize = shape.iter().product();
    if count != data.len() {
        return Err(RecordError::InvalidNpy {
            path: path.to_path_buf(),
            message: format!(
                "a shape of {shape:?} holds {count} values, not the {} given",
                data.len()
            ),
        });
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    let mut out = padded_header(&dict, (PREAMBLE + dict.len() + 1).next_multiple_of(64));
    out.reserve(4 * data.len());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out).map_err(|source| RecordError::Create {
        kind: "npy",
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a `.npy` file whose dtype is one of `descrs` (`item` bytes each): `(shape, raw data)`.
///
/// With `count_from_data`, the first dimension is the number of whole rows the data holds
/// (trailing bytes of a partial row are dropped), whatever the header says.
fn read_npy(
    path: &Path,
    descrs: &[&str],
    item: usize,
    dtype_name: &str,
    count_from_data: bool,
) -> Result<(Vec<usize>, Vec<u8>), RecordError> {
    let bytes = std::fs::read(path).map_err(|source| RecordError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: &str| RecordError::InvalidNpy {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    if bytes.len() < PREAMBLE || !bytes.starts_with(MAGIC) {
        return Err(invalid("missing the \\x93NUMPY magic"));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => {
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (len as usize, 12)
        }
        v => return Err(invalid(&format!("unsupported format version {v}"))),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or_else(|| invalid("header is truncated"))?;
    let header = std::str::from_utf8(header).map_err(|_| invalid("header is not text"))?;
    let (descr, mut shape) = parse_header(header).map_err(|m| invalid(&m))?;
    if !descrs.contains(&descr.as_str()) {
        return Err(invalid(&format!("dtype '{descr}' is not {dtype_name}")));
    }
    if count_from_data && !shape.is_empty() {
        let row = shape[1..]
            .iter()
            .try_fold(item, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| invalid("shape is too large"))?;
        if row > 0 {
            let rows = (bytes.len() - data_start) / row;
            shape[0] = rows;
            let mut data = bytes;
            data.truncate(data_start + rows * row);
            data.drain(..data_start);
            return Ok((shape, data));
        }
    }
    let count = shape
        .iter()
        .try_fold(item, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| invalid("shape is too large"))?;
    let mut data = bytes;
    let found = data.len() - data_start;
    if found != count {
        return Err(invalid(&format!(
            "shape {shape:?} needs {count} bytes of data, found {found}"
        )));
    }
    data.drain(..data_start);
    Ok((shape, data))
}

/// Parses the header dict; returns the dtype and the shape if the order is C.
fn parse_header(header: &str) -> Result<(String, Vec<usize>), String> {
    let body = header
        .trim()
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or("header is not a dict")?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        // A quoted key, a colon, then a value up to the next top-level comma.
        let quote = rest.chars().next().filter(|&c| c == '\'' || c == '"');
        let quote = quote.ok_or_else(|| format!("expected a quoted key at '{rest}'"))?;
        let end = rest[1..].find(quote).ok_or("unterminated key")? + 1;
        let key = &rest[1..end];
        let after = rest[end + 1..].trim_start();
        let after = after.strip_prefix(':').ok_or("expected ':' after a key")?;
        let after = after.trim_start();
        let value_len = if after.starts_with('(') {
            after.find(')').ok_or("unterminated shape tuple")? + 1
        } else {
            after.find(',').unwrap_or(after.len())
        };
        let value = after[..value_len].trim();
        match key {
            "descr" => descr = Some(value.trim_matches(|c| c == '\'' || c == '"').to_string()),
            "fortran_order" => fortran = Some(value.to_string()),
            "shape" => shape = Some(parse_shape(value)?),
            other => return Err(format!("unexpected key '{other}'")),
        }
        rest = after[value_len..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    let descr = descr.ok_or("no 'descr' in header")?;
    match fortran.as_deref() {
        Some("False") => {}
        Some("True") => return Err("Fortran-ordered arrays are not supported".into()),
        _ => return Err("missing or invalid 'fortran_order'".into()),
    }
    Ok((descr, shape.ok_or("no 'shape' in header")?))
}

/// Parses `(5, 4, 6, 3)`, `(7,)` or `()`.
fn parse_shape(value: &str) -> Result<Vec<usize>, String> {
    let inner = value
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("shape '{value}' is not a tuple"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension '{s}' in shape"))
        })
        .collect()
}

#[cfg(test)]
mod float_tests {
    use super::*;

    #[test]
    fn float32_arrays_round_trip_and_dtypes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let v = [1.5f32, -2.0, 0.25, f32::MAX, 0.0, 7.0];
        write_npy_f32(&p, &[2, 3], &v).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        // Header padded to a multiple of 64 bytes, then 6 little-endian floats.
        let header = bytes.len() - 24;
        assert_eq!(header % 64, 0);
        assert!(std::str::from_utf8(&bytes[10..header])
            .unwrap()
            .contains("'descr': '<f4'"));
        assert_eq!(&bytes[header..header + 4], &1.5f32.to_le_bytes());
        assert_eq!(read_npy_f32(&p).unwrap(), (vec![2, 3], v.to_vec()));
        let e = read_npy_u8(&p).unwrap_err().to_string();
        assert!(e.contains("is not uint8"), "{e}");
        write_npy_f32(&p, &[4], &v[..4]).unwrap();
        assert_eq!(read_npy_f32(&p).unwrap().0, vec![4]);
        // Truncated data is refused.
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() - 1]).unwrap();
        assert!(read_npy_f32(&p)
            .unwrap_err()
            .to_string()
            .contains("needs 16 bytes"));
        // A shape that does not hold the data is refused before anything is written.
        let q = dir.path().join("b.npy");
        let e = write_npy_f32(&q, &[4, 2], &v).unwrap_err().to_string();
        assert!(e.contains("holds 8 values, not the 6 given"), "{e}");
        assert!(!q.exists());
    }
}
