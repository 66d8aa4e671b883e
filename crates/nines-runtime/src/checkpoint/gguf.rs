//! Reader for llama.cpp's GGUF files (versions 2 and 3).
//!
//! The file is memory-mapped; the header, metadata and tensor directory are parsed eagerly and
//! every offset is bounds-checked, so a truncated or corrupt file is an error naming the byte
//! offset, never a panic. Tensor data is dequantized on request.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::dequant::GgmlType;
use crate::error::{Result, RuntimeError};

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// u8
    U8(u8),
    /// i8
    I8(i8),
    /// u16
    U16(u16),
    /// i16
    I16(i16),
    /// u32
    U32(u32),
    /// i32
    I32(i32),
    /// u64
    U64(u64),
    /// i64
    I64(i64),
    /// f32
    F32(f32),
    /// f64
    F64(f64),
    /// bool
    Bool(bool),
    /// UTF-8 string.
    String(String),
    /// Array of values of one type.
    Array(Vec<GgufValue>),
}

impl GgufValue {
    /// The value as an unsigned integer, when it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(v.into()),
            GgufValue::U16(v) => Some(v.into()),
            GgufValue::U32(v) => Some(v.into()),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, when it is any number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::F32(v) => Some(v.into()),
            GgufValue::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// The value as a string slice.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            GgufValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The value as an array.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            GgufValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One entry of the tensor directory.
#[derive(Debug, Clone)]
pub struct GgufTensorInfo {
    /// llama.cpp tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions in GGUF order (`ne[0]`, the contiguous one, first).
    pub dims: Vec<u64>,
    /// GGML type number.
    pub ggml_type: u32,
    /// Byte offset of the data from the start of the file.
    pub offset: usize,
    /// Bytes of data.
    pub size: usize,
}

impl GgufTensorInfo {
    /// The shape in PyTorch order (outermost first), i.e. `dims` reversed.
    pub fn torch_shape(&self) -> Vec<i64> {
        self.dims.iter().rev().map(|&d| d as i64).collect()
    }

    /// Number of elements.
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A parsed, memory-mapped GGUF file.
pub struct GgufFile {
    path: PathBuf,
    mmap: Mmap,
    version: u32,
    metadata: BTreeMap<String, GgufValue>,
    tensors: Vec<GgufTensorInfo>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(RuntimeError::corrupt(
                self.path,
                format!(
                    "truncated: reading {what} ({n} bytes) at byte {} of {}",
                    self.pos,
                    self.bytes.len()
                ),
            )),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let at = self.pos;
        let len = self.u64(what)?;
        let len = usize::try_from(len)
            .map_err(|_| self.err(at, format!("{what}: length {len} too large")))?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.err(at, format!("{what}: not valid UTF-8")))
    }

    fn err(&self, at: usize, message: String) -> RuntimeError {
        RuntimeError::corrupt(self.path, format!("at byte {at}: {message}"))
    }

    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<GgufValue> {
        let what = format!("value of `{key}`");
        Ok(match ty {
            0 => GgufValue::U8(self.array::<1>(&what)?[0]),
            1 => GgufValue::I8(self.array::<1>(&what)?[0] as i8),
            2 => GgufValue::U16(u16::from_le_bytes(self.array(&what)?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array(&what)?)),
            4 => GgufValue::U32(self.u32(&what)?),
            5 => GgufValue::I32(i32::from_le_bytes(self.array(&what)?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array(&what)?)),
            7 => {
                let at = self.pos;
                match self.array::<1>(&what)?[0] {
                    0 => GgufValue::Bool(false),
                    1 => GgufValue::Bool(true),
                    b => return Err(self.err(at, format!("{what}: {b} is not a boolean (0 or 1)"))),
                }
            }
            8 => GgufValue::String(self.string(&what)?),
            9 => {
                if depth > 0 {
                    return Err(self.err(
                        self.pos,
                        format!("`{key}`: nested arrays are not supported"),
                    ));
                }
                let elem_ty = self.u32(&what)?;
                let at = self.pos;
                let n = self.u64(&what)?;
                // Every element takes at least one byte: a count larger than the rest of the
                // file is corrupt (and must not be used to reserve memory).
                if n > (self.bytes.len() - self.pos) as u64 {
                    return Err(self.err(at, format!("`{key}`: array length {n} exceeds the file")));
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.value(elem_ty, key, depth + 1)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(self.u64(&what)?),
            11 => GgufValue::I64(i64::from_le_bytes(self.array(&what)?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array(&what)?)),
            other => return Err(self.err(self.pos, format!("`{key}`: unknown value type {other}"))),
        })
    }
}

/// No two tensors share a name, and no two tensors' data overlap.
fn check_tensor_table(path: &Path, tensors: &[GgufTensorInfo]) -> Result<()> {
    let mut names = std::collections::HashSet::with_capacity(tensors.len());
    for t in tensors {
        if !names.insert(t.name.as_str()) {
            return Err(RuntimeError::corrupt(
                path,
                format!("tensor `{}` is listed twice", t.name),
            ));
        }
    }
    let mut spans: Vec<&GgufTensorInfo> = tensors.iter().filter(|t| t.size > 0).collect();
    spans.sort_by_key(|t| t.offset);
    for pair in spans.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.offset + a.size > b.offset {
            return Err(RuntimeError::corrupt(
                path,
                format!(
                    "tensors `{}` (bytes {}..{}) and `{}` (from byte {}) overlap",
                    a.name,
                    a.offset,
                    a.offset + a.size,
                    b.name,
                    b.offset
                ),
            ));
        }
    }
    Ok(())
}

impl GgufFile {
    /// Opens and parses a GGUF file.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when the file cannot be read, [`RuntimeError::Corrupt`] for a bad
    /// magic, an unsupported version, a truncated header or tensor data beyond the file's end.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| RuntimeError::io(&path, e))?;
        // SAFETY: the map is read-only; a concurrent truncation by another process is the
        // usual mmap caveat and outside what a model loader can guard against.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| RuntimeError::io(&path, e))?;
        let (version, metadata, tensors) = Self::parse(&path, &mmap)?;
        Ok(GgufFile {
            path,
            mmap,
            version,
            metadata,
            tensors,
        })
    }

    #[allow(clippy::type_complexity)]
    fn parse(
        path: &Path,
        bytes: &[u8],
    ) -> Result<(u32, BTreeMap<String, GgufValue>, Vec<GgufTensorInfo>)> {
        let mut c = Cursor {
            bytes,
            pos: 0,
            path,
        };
        let magic = c.take(4, "magic")?;
        if magic != MAGIC {
            return Err(RuntimeError::corrupt(
                path,
                format!("not a GGUF file (magic {magic:?})"),
            ));
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(RuntimeError::corrupt(
                path,
                format!("GGUF version {version} is not supported (2 or 3)"),
            ));
        }
        let n_tensors = c.u64("tensor count")?;
        let n_kv = c.u64("metadata count")?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let key = c.string("metadata key")?;
            let ty = c.u32("metadata type")?;
            let value = c.value(ty, &key, 0)?;
            if metadata.contains_key(&key) {
                return Err(RuntimeError::corrupt(
                    path,
                    format!("metadata key `{key}` is listed twice"),
                ));
            }
            metadata.insert(key, value);
        }
        let mut infos = Vec::new();
        for _ in 0..n_tensors {
            let name = c.string("tensor name")?;
            let at = c.pos;
            let n_dims = c.u32("tensor dimension count")?;
            if n_dims > 4 {
                return Err(c.err(
                    at,
                    format!("tensor `{name}` has {n_dims} dimensions (at most 4)"),
                ));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64("tensor dimension")?);
            }
            let ggml_type = c.u32("tensor type")?;
            let offset = c.u64("tensor offset")?;
            infos.push((name, dims, ggml_type, offset));
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => {
                    return Err(RuntimeError::config(
                        path,
                        "general.alignment",
                        "must be a power of two",
                    ));
                }
            },
        };
        let data_start = (c.pos as u64).div_ceil(alignment) * alignment;
        let mut tensors = Vec::with_capacity(infos.len());
        for (name, dims, ggml_type, offset) in infos {
            let elements = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
            let size = match (GgmlType::from_id(ggml_type), elements) {
                (Some(ty), Some(n)) => ty.bytes_for(n as usize).ok_or_else(|| {
                    RuntimeError::corrupt(
                        path,
                        format!(
                            "tensor `{name}`: {n} elements is not a whole number of {ty:?} blocks"
                        ),
                    )
                })?,
                // Size unknown for types we cannot dequantize; checked when the tensor is read.
                (None, Some(_)) => 0,
                (_, None) => {
                    return Err(RuntimeError::corrupt(
                        path,
                        format!("tensor `{name}`: dimensions overflow"),
                    ));
                }
            };
            let start = data_start.checked_add(offset).ok_or_else(|| {
                RuntimeError::corrupt(path, format!("tensor `{name}`: offset overflows"))
            })?;
            let end = start.checked_add(size as u64);
            if end.is_none_or(|e| e > bytes.len() as u64) {
                return Err(RuntimeError::corrupt(
                    path,
                    format!(
                        "truncated: tensor `{name}` needs bytes {start}..{} but the file has {}",
                        start + size as u64,
                        bytes.len()
                    ),
                ));
            }
            if offset % alignment != 0 {
                return Err(RuntimeError::corrupt(
                    path,
                    format!(
                        "tensor `{name}`: data offset {offset} is not a multiple of the alignment {alignment}"
                    ),
                ));
            }
            tensors.push(GgufTensorInfo {
                name,
                dims,
                ggml_type,
                offset: start as usize,
                size,
            });
        }
        check_tensor_table(path, &tensors)?;
        Ok((version, metadata, tensors))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// All metadata, by key.
    pub fn metadata(&self) -> &BTreeMap<String, GgufValue> {
        &self.metadata
    }

    /// One metadata value.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.get(key)
    }

    /// A required unsigned-integer metadata value.
    pub fn require_u64(&self, key: &str) -> Result<u64> {
        self.get(key)
            .ok_or_else(|| RuntimeError::config(&self.path, key, "missing metadata key"))?
            .as_u64()
            .ok_or_else(|| RuntimeError::config(&self.path, key, "expected a non-negative integer"))
    }

    /// A required string metadata value.
    pub fn require_str(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| RuntimeError::config(&self.path, key, "missing metadata key"))?
            .as_str()
            .ok_or_else(|| RuntimeError::config(&self.path, key, "expected a string"))
    }

    /// The tensor directory.
    pub fn tensors(&self) -> &[GgufTensorInfo] {
        &self.tensors
    }

    /// Looks a tensor up by its GGUF name.
    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Dequantizes a tensor to `f32`, returning the values and the PyTorch-order shape.
    ///
    /// # Errors
    /// [`RuntimeError::MissingTensor`] or [`RuntimeError::UnsupportedQuantization`].
    pub fn dequantize(&self, name: &str) -> Result<(Vec<f32>, Vec<i64>)> {
        let (info, ty) = self.quantized(name)?;
        let mut values = Vec::new();
        ty.dequantize(
            &self.mmap[info.offset..info.offset + info.size],
            &mut values,
        );
        self.release(info.offset, info.size);
        Ok((values, info.torch_shape()))
    }

    /// Dequantizes rows `start..start + count` of a tensor (along its outermost PyTorch
    /// dimension) to `f32`, returning the values and their PyTorch-order shape: a large
    /// matrix read in blocks, without an f32 copy of the whole.
    ///
    /// # Errors
    /// As [`dequantize`](Self::dequantize), and [`RuntimeError::InvalidInput`] for rows
    /// outside the tensor.
    pub fn dequantize_rows(
        &self,
        name: &str,
        start: u64,
        count: u64,
    ) -> Result<(Vec<f32>, Vec<i64>)> {
        let (info, ty) = self.quantized(name)?;
        let mut shape = info.torch_shape();
        let total = shape.first().copied().unwrap_or(0) as u64;
        if start.checked_add(count).is_none_or(|end| end > total) {
            return Err(RuntimeError::InvalidInput(format!(
                "rows {start}..{} of `{name}` ({total} rows) in {}",
                start.saturating_add(count),
                self.path.display()
            )));
        }
        let row_elements = info.dims[..info.dims.len().saturating_sub(1)]
            .iter()
            .product::<u64>();
        let mut values = Vec::new();
        match ty.bytes_for(row_elements as usize) {
            // Rows made of whole blocks (every matrix llama.cpp writes): read just them.
            Some(row_bytes) => {
                let from = info.offset + start as usize * row_bytes;
                let len = count as usize * row_bytes;
                ty.dequantize(&self.mmap[from..from + len], &mut values);
                self.release(from, len);
            }
            None => {
                let (all, _) = self.dequantize(name)?;
                let r = row_elements as usize;
                values = all[start as usize * r..(start + count) as usize * r].to_vec();
            }
        }
        if let Some(rows) = shape.first_mut() {
            *rows = count as i64;
        }
        Ok((values, shape))
    }

    /// A tensor's directory entry and element type.
    fn quantized(&self, name: &str) -> Result<(&GgufTensorInfo, GgmlType)> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| RuntimeError::MissingTensor {
                path: self.path.clone(),
                tensor: name.to_string(),
            })?;
        let ty = GgmlType::from_id(info.ggml_type).ok_or_else(|| {
            RuntimeError::UnsupportedQuantization {
                path: self.path.clone(),
                tensor: name.to_string(),
                ggml_type: GgmlType::name_of(info.ggml_type),
            }
        })?;
        Ok((info, ty))
    }

    /// Lets the kernel drop the mapped pages of bytes already read, so that the file does not
    /// stay resident beside the weights made from it (a page read again is read from the
    /// file again).
    fn release(&self, offset: usize, len: usize) {
        #[cfg(unix)]
        // SAFETY: the map is private and read-only and no slice of it outlives the caller's
        // use: dropping its pages only makes the next access read the file again.
        let _ = unsafe {
            self.mmap
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len)
        };
        #[cfg(not(unix))]
        let _ = (offset, len);
    }
}

/// Serves a llama-architecture GGUF file's tensors under Hugging Face names, undoing the row
/// permutation that llama.cpp's converter applies to the query and key projections.
#[derive(Debug)]
pub struct GgufLlamaSource {
    file: GgufFile,
    n_head: i64,
    n_kv_head: i64,
}

impl GgufLlamaSource {
    /// Wraps a parsed file; `n_head` and `n_kv_head` come from its `llama.attention.*` metadata.
    pub fn new(file: GgufFile, n_head: i64, n_kv_head: i64) -> Self {
        GgufLlamaSource {
            file,
            n_head,
            n_kv_head,
        }
    }

    /// The underlying file.
    pub fn file(&self) -> &GgufFile {
        &self.file
    }

    /// The GGUF name of a Hugging Face llama tensor name, with the head count to un-permute by.
    fn gguf_name(&self, hf: &str) -> Option<(String, Option<i64>)> {
        let plain = |s: &str| Some((s.to_string(), None));
        match hf {
            "model.embed_tokens.weight" => return plain("token_embd.weight"),
            "model.norm.weight" => return plain("output_norm.weight"),
            "lm_head.weight" => return plain("output.weight"),
            _ => {}
        }
        let rest = hf.strip_prefix("model.layers.")?;
        let (layer, leaf) = rest.split_once('.')?;
        let layer: usize = layer.parse().ok()?;
        let (gguf_leaf, heads) = match leaf {
            "input_layernorm.weight" => ("attn_norm.weight", None),
            "self_attn.q_proj.weight" => ("attn_q.weight", Some(self.n_head)),
            "self_attn.k_proj.weight" => ("attn_k.weight", Some(self.n_kv_head)),
            "self_attn.v_proj.weight" => ("attn_v.weight", None),
            "self_attn.o_proj.weight" => ("attn_output.weight", None),
            "post_attention_layernorm.weight" => ("ffn_norm.weight", None),
            "mlp.gate_proj.weight" => ("ffn_gate.weight", None),
            "mlp.up_proj.weight" => ("ffn_up.weight", None),
            "mlp.down_proj.weight" => ("ffn_down.weight", None),
            _ => return None,
        };
        Some((format!("blk.{layer}.{gguf_leaf}"), heads))
    }
}

impl super::TensorSource for GgufLlamaSource {
    fn shape(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self
            .gguf_name(name)
            .and_then(|(gguf_name, _)| self.file.tensor_info(&gguf_name))
            .map(GgufTensorInfo::torch_shape))
    }

    fn read_rows(&self, name: &str, start: i64, count: i64) -> Result<Option<tch::Tensor>> {
        let Some((gguf_name, heads)) = self.gguf_name(name) else {
            return Ok(None);
        };
        if self.file.tensor_info(&gguf_name).is_none() {
            return Ok(None);
        }
        if heads.is_some() || start < 0 || count < 0 {
            // Query and key rows are permuted within heads: read them whole (they are small).
            return self
                .read(name)?
                .map(|t| t.f_narrow(0, start, count).map_err(Into::into))
                .transpose();
        }
        let (values, shape) = self
            .file
            .dequantize_rows(&gguf_name, start as u64, count as u64)?;
        Ok(Some(tch::Tensor::f_from_slice(&values)?.f_reshape(&shape)?))
    }

    fn read(&self, name: &str) -> Result<Option<tch::Tensor>> {
        let Some((gguf_name, heads)) = self.gguf_name(name) else {
            return Ok(None);
        };
        if self.file.tensor_info(&gguf_name).is_none() {
            return Ok(None);
        }
        let (values, shape) = self.file.dequantize(&gguf_name)?;
        let t = tch::Tensor::f_from_slice(&values)?.f_reshape(&shape)?;
        Ok(Some(match heads {
            Some(h) => unpermute_rope_rows(&t, h).map_err(|m| {
                RuntimeError::corrupt(&self.file.path, format!("tensor `{gguf_name}`: {m}"))
            })?,
            None => t,
        }))
    }

    fn origin(&self, _name: &str) -> PathBuf {
        self.file.path.clone()
    }
}

/// llama.cpp stores each head's query/key rows interleaved (pairs of rotary components next to
/// each other); Hugging Face keeps the two rotary halves apart. This undoes the former:
/// rows viewed as `(heads, head_dim/2, 2)` are transposed to `(heads, 2, head_dim/2)`.
pub(crate) fn unpermute_rope_rows(
    w: &tch::Tensor,
    heads: i64,
) -> std::result::Result<tch::Tensor, String> {
    let size = w.size();
    let (rows, cols) = match size.as_slice() {
        [r, c] => (*r, *c),
        _ => return Err(format!("expected a 2-D projection, got shape {size:?}")),
    };
    if heads <= 0 || rows % (2 * heads) != 0 {
        return Err(format!(
            "{rows} rows cannot be split into {heads} heads of even size"
        ));
    }
    Ok(w.reshape([heads, rows / heads / 2, 2, cols])
        .transpose(1, 2)
        .reshape([rows, cols]))
}
