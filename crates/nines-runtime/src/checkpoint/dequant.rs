//! Dequantization of GGML tensor data (the block formats llama.cpp writes into GGUF files).
//!
//! Each function takes the raw bytes of whole blocks and appends `f32` values in the order the
//! elements appear in the tensor (row-major, the GGUF `ne[0]` dimension fastest).

use half::{bf16, f16};

/// GGML element types this module understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    Bf16,
    /// Blocks of 32: f16 scale, 32 × i8.
    Q8_0,
    /// Blocks of 32: f16 scale, 32 × 4-bit (offset 8).
    Q4_0,
    /// Blocks of 32: f16 scale, f16 minimum, 32 × 4-bit.
    Q4_1,
    /// Super-blocks of 256: f16 scale and min, 8 sub-blocks with 6-bit scales/mins, 4-bit values.
    Q4K,
    /// Super-blocks of 256: 6-bit values, 16 sub-blocks with i8 scales, f16 scale.
    Q6K,
}

impl GgmlType {
    /// Maps the GGUF type number; `None` for types this runtime does not dequantize.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            8 => GgmlType::Q8_0,
            12 => GgmlType::Q4K,
            14 => GgmlType::Q6K,
            30 => GgmlType::Bf16,
            _ => return None,
        })
    }

    /// The name llama.cpp uses for a GGUF type number (for error messages).
    pub fn name_of(id: u32) -> String {
        let name = match id {
            0 => "F32",
            1 => "F16",
            2 => "Q4_0",
            3 => "Q4_1",
            6 => "Q5_0",
            7 => "Q5_1",
            8 => "Q8_0",
            9 => "Q8_1",
            10 => "Q2_K",
            11 => "Q3_K",
            12 => "Q4_K",
            13 => "Q5_K",
            14 => "Q6_K",
            15 => "Q8_K",
            16 => "IQ2_XXS",
            17 => "IQ2_XS",
            18 => "IQ3_XXS",
            19 => "IQ1_S",
            20 => "IQ4_NL",
            21 => "IQ3_S",
            22 => "IQ2_S",
            23 => "IQ4_XS",
            24 => "I8",
            25 => "I16",
            26 => "I32",
            27 => "I64",
            28 => "F64",
            29 => "IQ1_M",
            30 => "BF16",
            _ => return format!("#{id}"),
        };
        name.to_string()
    }

    /// Elements per block.
    pub fn block_elements(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::Bf16 => 1,
            GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q4_1 => 32,
            GgmlType::Q4K | GgmlType::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::Bf16 => 2,
            GgmlType::Q8_0 => 34,
            GgmlType::Q4_0 => 18,
            GgmlType::Q4_1 => 20,
            GgmlType::Q4K => 144,
            GgmlType::Q6K => 210,
        }
    }

    /// Bytes needed for `elements` values, or `None` when `elements` is not a whole number of blocks.
    pub fn bytes_for(self, elements: usize) -> Option<usize> {
        let per = self.block_elements();
        if !elements.is_multiple_of(per) {
            return None;
        }
        (elements / per).checked_mul(self.block_bytes())
    }

    /// Dequantizes `data` (whole blocks) into `out`.
    ///
    /// `data.len()` must be a multiple of [`block_bytes`](Self::block_bytes); callers check this.
    pub fn dequantize(self, data: &[u8], out: &mut Vec<f32>) {
        let blocks = data.chunks_exact(self.block_bytes());
        out.reserve(blocks.len() * self.block_elements());
        match self {
            GgmlType::F32 => {
                out.extend(blocks.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            GgmlType::F16 => out.extend(blocks.map(|b| f16_at(b, 0))),
            GgmlType::Bf16 => {
                out.extend(blocks.map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()))
            }
            GgmlType::Q8_0 => blocks.for_each(|b| q8_0(b, out)),
            GgmlType::Q4_0 => blocks.for_each(|b| q4_0(b, out)),
            GgmlType::Q4_1 => blocks.for_each(|b| q4_1(b, out)),
            GgmlType::Q4K => blocks.for_each(|b| q4_k(b, out)),
            GgmlType::Q6K => blocks.for_each(|b| q6_k(b, out)),
        }
    }
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

fn q8_0(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    out.extend(b[2..34].iter().map(|&q| d * f32::from(q as i8)));
}

/// Low nibbles hold elements 0..16, high nibbles 16..32.
fn q4_0(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    out.extend(qs.iter().map(|&q| d * (f32::from(q & 0x0f) - 8.0)));
    out.extend(qs.iter().map(|&q| d * (f32::from(q >> 4) - 8.0)));
}

fn q4_1(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qs = &b[4..20];
    out.extend(qs.iter().map(|&q| d * f32::from(q & 0x0f) + m));
    out.extend(qs.iter().map(|&q| d * f32::from(q >> 4) + m));
}

/// The 6-bit scale and minimum of sub-block `j` (0..8) packed in the 12 scale bytes of a Q4_K block.
fn scale_min_k4(j: usize, s: &[u8]) -> (f32, f32) {
    if j < 4 {
        (f32::from(s[j] & 63), f32::from(s[j + 4] & 63))
    } else {
        let sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        let m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        (f32::from(sc), f32::from(m))
    }
}

fn q4_k(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    // Four chunks of 64 elements; each chunk uses 32 bytes: low nibbles first, then high nibbles.
    for (chunk, q) in qs.chunks_exact(32).enumerate() {
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, m1) = (d * sc1, dmin * m1);
        let (d2, m2) = (d * sc2, dmin * m2);
        out.extend(q.iter().map(|&x| d1 * f32::from(x & 0x0f) - m1));
        out.extend(q.iter().map(|&x| d2 * f32::from(x >> 4) - m2));
    }
}

fn q6_k(b: &[u8], out: &mut Vec<f32>) {
    let ql_all = &b[0..128];
    let qh_all = &b[128..192];
    let sc_all = &b[192..208];
    let d = f16_at(b, 208);
    let start = out.len();
    out.resize(start + 256, 0.0);
    let y_all = &mut out[start..];
    // Two halves of 128 elements, each using 64 bytes of ql, 32 of qh and 8 scales.
    for half in 0..2 {
        let ql = &ql_all[64 * half..64 * half + 64];
        let qh = &qh_all[32 * half..32 * half + 32];
        let sc = &sc_all[8 * half..8 * half + 8];
        let y = &mut y_all[128 * half..128 * half + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = i32::from((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32;
            let q2 = i32::from((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            let q3 = i32::from((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            let q4 = i32::from((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            let s = |k: usize| d * f32::from(sc[is + k] as i8);
            y[l] = s(0) * q1 as f32;
            y[l + 32] = s(2) * q2 as f32;
            y[l + 64] = s(4) * q3 as f32;
            y[l + 96] = s(6) * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_scales_signed_bytes() {
        let mut b = vec![0u8; 34];
        b[0..2].copy_from_slice(&f16::from_f32(0.5).to_le_bytes());
        b[2] = 4;
        b[3] = (-6i8) as u8;
        let mut out = Vec::new();
        GgmlType::Q8_0.dequantize(&b, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(&out[..3], &[2.0, -3.0, 0.0]);
    }

    #[test]
    fn q4_1_uses_nibble_halves() {
        let mut b = vec![0u8; 20];
        b[0..2].copy_from_slice(&f16::from_f32(2.0).to_le_bytes());
        b[2..4].copy_from_slice(&f16::from_f32(-1.0).to_le_bytes());
        b[4] = 0x31; // element 0 = 1, element 16 = 3
        let mut out = Vec::new();
        GgmlType::Q4_1.dequantize(&b, &mut out);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[16], 5.0);
        assert_eq!(out[1], -1.0);
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(GgmlType::Q4K.bytes_for(512), Some(288));
        assert_eq!(GgmlType::Q6K.bytes_for(100), None);
        assert_eq!(GgmlType::from_id(13), None);
        assert_eq!(GgmlType::name_of(13), "Q5_K");
    }
}
