//! LZF, the compression Redis applies to long strings in RDB files.
//!
//! The stream is a sequence of items, each introduced by a control byte:
//!
//! * `000LLLLL`: a literal run of `L + 1` bytes (1 to 32) follows.
//! * `LLLOOOOO OOOOOOOO`: a back reference of `LLL + 2` bytes (3 to 8)
//!   starting `O + 1` bytes behind the output's end (up to 8192).
//! * `111OOOOO LLLLLLLL OOOOOOOO`: the same with `LLLLLLLL + 9` bytes (up to
//!   264).
//!
//! The compressor finds matches with a hash table of three-byte prefixes;
//! it gives up (returns `None`) as soon as its output would exceed the
//! caller's limit, since Redis stores a string compressed only when that
//! saves space. The decompressor checks every length and offset against the
//! buffers, so corrupt input is an error, never a panic or an overrun.

const HASH_BITS: u32 = 14;
const MAX_LITERAL: usize = 32;
const MAX_OFFSET: usize = 8192;
const MAX_MATCH: usize = 264;

fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2654435761) >> (32 - HASH_BITS)) as usize
}

/// Compresses `input`; `None` if the result would be longer than `max_out`
/// bytes.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(max_out.min(n + n / 32 + 2));
    let mut table = vec![0u32; 1 << HASH_BITS];
    // Position of the pending literal run's control byte, and its length.
    let mut ctrl = 0usize;
    let mut lit = 0usize;
    out.push(0);
    let mut ip = 0usize;
    while ip + 2 < n {
        let h = hash3(&input[ip..]);
        let cand = table[h] as usize;
        table[h] = (ip + 1) as u32;
        if cand > 0 {
            let r = cand - 1;
            let off = ip - r - 1;
            if off < MAX_OFFSET && input[r..r + 3] == input[ip..ip + 3] {
                let max = (n - ip).min(MAX_MATCH);
                let mut len = 3;
                while len < max && input[r + len] == input[ip + len] {
                    len += 1;
                }
                // Close the literal run (or drop its unused control byte).
                if lit > 0 {
                    out[ctrl] = (lit - 1) as u8;
                } else {
                    out.pop();
                }
                let l = len - 2;
                if l < 7 {
                    out.push(((l as u8) << 5) | (off >> 8) as u8);
                } else {
                    out.push((7 << 5) | (off >> 8) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                // Index the positions inside the match for later ones.
                let end = ip + len;
                let mut p = ip + 1;
                while p < end && p + 2 < n {
                    table[hash3(&input[p..])] = (p + 1) as u32;
                    p += 1;
                }
                ip = end;
                ctrl = out.len();
                out.push(0);
                lit = 0;
                if out.len() > max_out {
                    return None;
                }
                continue;
            }
        }
        out.push(input[ip]);
        lit += 1;
        ip += 1;
        if lit == MAX_LITERAL {
            out[ctrl] = (lit - 1) as u8;
            ctrl = out.len();
            out.push(0);
            lit = 0;
        }
        if out.len() > max_out {
            return None;
        }
    }
    while ip < n {
        out.push(input[ip]);
        lit += 1;
        ip += 1;
        if lit == MAX_LITERAL {
            out[ctrl] = (lit - 1) as u8;
            ctrl = out.len();
            out.push(0);
            lit = 0;
        }
    }
    if lit > 0 {
        out[ctrl] = (lit - 1) as u8;
    } else {
        out.pop();
    }
    (out.len() <= max_out).then_some(out)
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, &'static str> {
    // The output can be at most about 132 times the input (a 3-byte
    // reference yields 264 bytes), so a larger claimed length is corrupt and
    // must not be allocated.
    if out_len > input.len().saturating_mul(132).saturating_add(32) {
        return Err("LZF length is inconsistent with the compressed data");
    }
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let c = input[ip] as usize;
        ip += 1;
        if c < 32 {
            let run = c + 1;
            let lits = input.get(ip..ip + run).ok_or("truncated LZF literal run")?;
            if out.len() + run > out_len {
                return Err("LZF output longer than declared");
            }
            out.extend_from_slice(lits);
            ip += run;
        } else {
            let mut len = c >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or("truncated LZF reference")? as usize;
                ip += 1;
            }
            let lo = *input.get(ip).ok_or("truncated LZF reference")? as usize;
            ip += 1;
            let back = ((c & 0x1f) << 8) + lo + 1;
            let len = len + 2;
            if back > out.len() {
                return Err("LZF reference before the start of the output");
            }
            if out.len() + len > out_len {
                return Err("LZF output longer than declared");
            }
            let start = out.len() - back;
            // Overlapping copies repeat the pattern, byte by byte.
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err("LZF output shorter than declared");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        let c = compress(data, data.len() + data.len() / 16 + 64).expect("fits");
        assert_eq!(decompress(&c, data.len()).expect("valid"), data);
    }

    #[test]
    fn round_trips() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(b"abcabcabcabcabcabcabcabcabcabcabcabc");
        round_trip(&[b'x'; 10_000]);
        let text: Vec<u8> = (0..20_000u32)
            .map(|i| b"the quick brown fox "[(i % 20) as usize] ^ ((i / 997) as u8 & 1))
            .collect();
        round_trip(&text);
        let mut rnd = Vec::new();
        let mut s = 12345u32;
        for _ in 0..5000 {
            s = s.wrapping_mul(1103515245).wrapping_add(12345);
            rnd.push((s >> 16) as u8);
        }
        round_trip(&rnd);
    }

    #[test]
    fn compresses_repetitive_data_and_respects_the_limit() {
        let data = vec![b'a'; 1000];
        let c = compress(&data, 996).expect("compressible");
        assert!(c.len() < 30, "{} bytes", c.len());
        let noise: Vec<u8> = (0..200u32).map(|i| (i * 131 % 251) as u8).collect();
        assert!(compress(&noise, 196).is_none());
    }

    #[test]
    fn corrupt_input_is_an_error() {
        assert!(
            decompress(&[0x20, 0x05], 10).is_err(),
            "reference before start"
        );
        assert!(decompress(&[0x05, b'a'], 6).is_err(), "truncated literal");
        assert!(decompress(&[0x00, b'a'], 2).is_err(), "short output");
        assert!(decompress(&[0x00, b'a'], 1 << 40).is_err(), "absurd length");
    }
}
