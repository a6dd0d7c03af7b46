//! Argument parsing helpers. Handlers read arguments through these so that
//! every malformed number gets Redis's error text and nothing indexes past the
//! end of an argument vector.

use crate::context::CmdError;
use crate::errors;
use bytes::Bytes;

/// A cursor over a command's arguments (the command name already skipped).
pub struct Args<'a> {
    args: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// `args` is the whole request; the cursor starts after the name (and
    /// after the subcommand name when `skip` is 2).
    pub fn new(args: &'a [Bytes], skip: usize) -> Self {
        Args {
            args,
            pos: skip.min(args.len()),
        }
    }

    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument, or a syntax error if there is none.
    pub fn next_arg(&mut self) -> Result<&'a Bytes, CmdError> {
        let a = self
            .args
            .get(self.pos)
            .ok_or(CmdError::from(errors::SYNTAX))?;
        self.pos += 1;
        Ok(a)
    }

    pub fn next_opt(&mut self) -> Option<&'a Bytes> {
        let a = self.args.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    pub fn peek(&self) -> Option<&'a Bytes> {
        self.args.get(self.pos)
    }

    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        parse_i64(self.next_arg()?)
    }

    pub fn next_f64(&mut self) -> Result<f64, CmdError> {
        parse_f64(self.next_arg()?)
    }

    /// The rest of the arguments.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let r = &self.args[self.pos..];
        self.pos = self.args.len();
        r
    }
}

/// True if `arg` equals `word`, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parses a strict integer; `ERR value is not an integer or out of range`.
pub fn parse_i64(arg: &[u8]) -> Result<i64, CmdError> {
    ferrocache_protocol::parse_i64(arg).ok_or(CmdError::from(errors::NOT_INTEGER))
}

/// Parses a float as Redis's `strtold`-based parsing does: decimal or
/// exponent notation, `inf`/`-inf`, no spaces, no NaN;
/// `ERR value is not a valid float`.
pub fn parse_f64(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64_opt(arg).ok_or(CmdError::from(errors::NOT_FLOAT))
}

pub fn parse_f64_opt(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg.len() > 5000 {
        return None;
    }
    if arg[0].is_ascii_whitespace() || arg[arg.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(arg).ok()?;
    let lower = s.to_ascii_lowercase();
    let v = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        // Rust accepts "nan"; strtod does too, but Redis rejects NaN.
        t if t.starts_with("nan") => return None,
        _ => {
            // Hexadecimal floats are accepted by strtold but rarely used;
            // Rust's parser covers decimal and exponent forms.
            if lower.contains("0x") {
                return None;
            }
            s.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(parse_f64_opt(b"1.5"), Some(1.5));
        assert_eq!(parse_f64_opt(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64_opt(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64_opt(b".5"), Some(0.5));
        assert_eq!(parse_f64_opt(b"nan"), None);
        assert_eq!(parse_f64_opt(b" 1"), None);
        assert_eq!(parse_f64_opt(b"abc"), None);
        assert_eq!(parse_f64_opt(b""), None);
    }
}
