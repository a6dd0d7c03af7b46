//! Request decoding: the multibulk form every client library sends, and the
//! inline form that `redis-cli` in a pipe and telnet users type.
//!
//! The decoder is resumable. A multibulk command whose arguments trickle in
//! keeps the arguments already complete in `pending`, so a large pipelined
//! command is parsed once, not once per read.

use bytes::{Buf, Bytes, BytesMut};
use std::fmt;

/// Longest inline request, or multibulk/bulk header line, accepted before the
/// end of line arrives (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Bulk arguments longer than this are read in place rather than copied; it
/// only matters as the threshold Redis uses for unauthenticated clients.
const UNAUTH_MAX_BULK: i64 = 16 * 1024;
const UNAUTH_MAX_MULTIBULK: i64 = 10;

/// Limits that a request must respect. They come from the configuration
/// (`proto-max-bulk-len`) and the connection state (authenticated or not).
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// A request that breaks the protocol. The connection answers with
/// `-ERR Protocol error: <detail>` and closes, as Redis does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    detail: String,
}

impl ProtocolError {
    fn new(detail: impl Into<String>) -> Self {
        ProtocolError {
            detail: detail.into(),
        }
    }

    /// The text after `Protocol error: `.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The full error reply text, without the leading `-` and trailing CRLF.
    pub fn reply_text(&self) -> String {
        format!("ERR Protocol error: {}", self.detail)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: {}", self.detail)
    }
}

impl std::error::Error for ProtocolError {}

/// Incremental decoder of client requests.
#[derive(Default, Debug)]
pub struct RequestDecoder {
    /// Arguments still expected by the multibulk command being read; zero
    /// when between commands.
    remaining: usize,
    /// Arguments of the current multibulk command that are complete.
    pending: Vec<Bytes>,
}

impl RequestDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a multibulk command is partly read.
    pub fn in_progress(&self) -> bool {
        self.remaining > 0
    }

    /// Decodes one command from the front of `buf`.
    ///
    /// On `Ok(true)` the command's arguments are in `args` (cleared first) and
    /// its bytes are gone from `buf`. `Ok(false)` means more bytes are needed;
    /// whatever was complete has been consumed and is remembered. Empty
    /// requests (a bare newline, `*0\r\n`) are consumed silently, as Redis does.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        limits: &DecodeLimits,
    ) -> Result<bool, ProtocolError> {
        if self.remaining == 0 && buf.first() == Some(&b'*') && whole_command(buf, args, limits) {
            return Ok(true);
        }
        loop {
            if self.remaining == 0 {
                match buf.first() {
                    None => return Ok(false),
                    Some(b'*') => match self.read_multibulk_header(buf, limits)? {
                        Header::Incomplete => return Ok(false),
                        Header::Empty => continue,
                        Header::Started => {}
                    },
                    Some(_) => match read_inline(buf, args)? {
                        Inline::Incomplete => return Ok(false),
                        Inline::Empty => continue,
                        Inline::Command => return Ok(true),
                    },
                }
            }
            while self.remaining > 0 {
                match read_bulk(buf, limits)? {
                    Some(arg) => {
                        self.pending.push(arg);
                        self.remaining -= 1;
                    }
                    None => return Ok(false),
                }
            }
            args.clear();
            args.append(&mut self.pending);
            return Ok(true);
        }
    }

    fn read_multibulk_header(
        &mut self,
        buf: &mut BytesMut,
        limits: &DecodeLimits,
    ) -> Result<Header, ProtocolError> {
        let Some(line_end) = find_cr(buf) else {
            if buf.len() > INLINE_MAX_SIZE {
                return Err(ProtocolError::new("too big mbulk count string"));
            }
            return Ok(Header::Incomplete);
        };
        if line_end + 1 >= buf.len() {
            return Ok(Header::Incomplete);
        }
        let count = parse_i64(&buf[1..line_end]);
        let count = match count {
            Some(n) if n <= i32::MAX as i64 => n,
            _ => return Err(ProtocolError::new("invalid multibulk length")),
        };
        if count > UNAUTH_MAX_MULTIBULK && !limits.authenticated {
            return Err(ProtocolError::new("unauthenticated multibulk length"));
        }
        buf.advance(line_end + 2);
        if count <= 0 {
            return Ok(Header::Empty);
        }
        self.remaining = count as usize;
        // Reserve for what a sane command needs, never for what was declared.
        self.pending.clear();
        self.pending.reserve(self.remaining.min(16));
        Ok(Header::Started)
    }
}

/// Most arguments a command may have to take the one-pass path.
const WHOLE_MAX_ARGS: usize = 16;

/// The common case in one pass: a multibulk command that is entirely in
/// `buf` and breaks no rule. Its bytes are split off once and each argument
/// is a slice of them, instead of one split per argument. Anything else
/// (an incomplete command, an error, an empty or very long one) leaves `buf`
/// untouched and returns false, and the general path below decides, so the
/// two paths can't disagree on what a request means.
fn whole_command(buf: &mut BytesMut, args: &mut Vec<Bytes>, limits: &DecodeLimits) -> bool {
    let b: &[u8] = buf;
    let Some((count, mut pos)) = header_line(b, 1) else {
        return false;
    };
    if count <= 0
        || count as usize > WHOLE_MAX_ARGS
        || (count > UNAUTH_MAX_MULTIBULK && !limits.authenticated)
    {
        return false;
    }
    let mut spans = [(0usize, 0usize); WHOLE_MAX_ARGS];
    for span in spans.iter_mut().take(count as usize) {
        if b.get(pos) != Some(&b'$') {
            return false;
        }
        let Some((len, start)) = header_line(b, pos + 1) else {
            return false;
        };
        if len < 0 || len > limits.max_bulk_len || (len > UNAUTH_MAX_BULK && !limits.authenticated)
        {
            return false;
        }
        // The two bytes after the payload are skipped unchecked, as below.
        let end = start.saturating_add(len as usize);
        if end > b.len().saturating_sub(2) {
            return false;
        }
        *span = (start, end);
        pos = end + 2;
    }
    let frame = buf.split_to(pos).freeze();
    args.clear();
    args.extend(
        spans[..count as usize]
            .iter()
            .map(|&(start, end)| frame.slice(start..end)),
    );
    true
}

/// The integer on the header line that starts at `from` (after its `*` or
/// `$`) and the offset after the line's two terminating bytes; `None` when
/// the line is incomplete or not a valid integer.
fn header_line(b: &[u8], from: usize) -> Option<(i64, usize)> {
    let rest = b.get(from..)?;
    let cr = from + find_cr(rest)?;
    if cr + 1 >= b.len() {
        return None;
    }
    Some((parse_i64(&b[from..cr])?, cr + 2))
}

enum Header {
    Incomplete,
    Empty,
    Started,
}

enum Inline {
    Incomplete,
    Empty,
    Command,
}

fn find_cr(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\r')
}

/// Reads one `$<len>\r\n<data>\r\n` argument, or `None` if it has not fully
/// arrived.
fn read_bulk(buf: &mut BytesMut, limits: &DecodeLimits) -> Result<Option<Bytes>, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let Some(line_end) = find_cr(buf) else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ProtocolError::new("too big bulk count string"));
        }
        return Ok(None);
    };
    if line_end + 1 >= buf.len() {
        return Ok(None);
    }
    if first != b'$' {
        return Err(ProtocolError::new(format!(
            "expected '$', got '{}'",
            first as char
        )));
    }
    let len = match parse_i64(&buf[1..line_end]) {
        Some(n) if n >= 0 && n <= limits.max_bulk_len => n,
        _ => return Err(ProtocolError::new("invalid bulk length")),
    };
    if len > UNAUTH_MAX_BULK && !limits.authenticated {
        return Err(ProtocolError::new("unauthenticated bulk length"));
    }
    let len = len as usize;
    let header = line_end + 2;
    // Nothing is reserved here: the caller's buffer grows only as bytes arrive.
    if buf.len() < header + len + 2 {
        return Ok(None);
    }
    buf.advance(header);
    let arg = buf.split_to(len).freeze();
    // Like Redis, the two bytes after the payload are skipped unchecked.
    buf.advance(2);
    Ok(Some(arg))
}

/// Reads one inline request (a line of space separated, optionally quoted,
/// words).
fn read_inline(buf: &mut BytesMut, args: &mut Vec<Bytes>) -> Result<Inline, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(Inline::Incomplete);
    };
    let line_len = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let words = split_args(&buf[..line_len])
        .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
    buf.advance(nl + 1);
    if words.is_empty() {
        return Ok(Inline::Empty);
    }
    args.clear();
    args.extend(words.into_iter().map(Bytes::from));
    Ok(Inline::Command)
}

/// Splits a line into words the way `redis-cli` and Redis's inline protocol
/// do: whitespace separates words, double quotes allow `\n \r \t \b \a \xHH`
/// escapes, single quotes allow only `\'`. A closing quote must be followed by
/// whitespace or the end of the line. `None` means unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(words);
        }
        let mut word = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    word.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    word.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    word.push(c);
                }
            } else if in_single {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    word.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    word.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => word.push(c),
                }
            }
            i += 1;
        }
        words.push(word);
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Strict integer parse: optional `-`, no `+`, no leading zeros, no spaces,
/// within `i64`. This is the rule Redis applies to protocol lengths and to
/// integer arguments alike.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>, usize) {
        let mut dec = RequestDecoder::new();
        let mut buf = BytesMut::from(input);
        let mut args = Vec::new();
        let mut out = Vec::new();
        loop {
            match dec.decode(&mut buf, &mut args, &DecodeLimits::default()) {
                Ok(true) => out.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(false) => return (out, Ok(()), buf.len()),
                Err(e) => return (out, Err(e), buf.len()),
            }
        }
    }

    #[test]
    fn multibulk_and_pipeline() {
        let (cmds, res, left) =
            decode_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4");
        assert_eq!(res, Ok(()));
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(cmds[1], vec![b"PING".to_vec()]);
        assert_eq!(left, 2, "the incomplete bulk header stays buffered");
    }

    #[test]
    fn resumes_byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut dec = RequestDecoder::new();
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        for (i, b) in input.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let done = dec
                .decode(&mut buf, &mut args, &DecodeLimits::default())
                .unwrap();
            assert_eq!(done, i == input.len() - 1, "at byte {i}");
        }
        assert_eq!(
            args,
            vec![Bytes::from("SET"), Bytes::from("key"), Bytes::from("value")]
        );
    }

    /// Decodes `input` fed in two pieces split at `at`, with `limits`.
    fn decode_split(
        input: &[u8],
        at: usize,
        limits: &DecodeLimits,
    ) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>, usize) {
        let mut dec = RequestDecoder::new();
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        let mut out = Vec::new();
        for part in [&input[..at], &input[at..]] {
            buf.extend_from_slice(part);
            loop {
                match dec.decode(&mut buf, &mut args, limits) {
                    Ok(true) => out.push(args.iter().map(|a| a.to_vec()).collect()),
                    Ok(false) => break,
                    Err(e) => return (out, Err(e), buf.len()),
                }
            }
        }
        (out, Ok(()), buf.len())
    }

    /// A command that is all in the buffer takes the one-pass path; fed in
    /// two pieces it takes the argument-by-argument path (or both). Every
    /// split point must give the same commands and the same error, and when
    /// there is no error the same bytes left over (after an error the
    /// connection closes, so what stays buffered does not matter).
    #[test]
    fn one_pass_and_incremental_paths_agree() {
        let mut many = b"*17\r\n".to_vec();
        for i in 0..17 {
            many.extend_from_slice(format!("${}\r\n{}\r\n", i.to_string().len(), i).as_bytes());
        }
        let inputs: Vec<Vec<u8>> = vec![
            b"*2\r\n$3\r\nGET\r\n$16\r\nkey:000000012345\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
            b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$5\r\nvalue\r\n*1\r\n$4".to_vec(),
            b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
            b"*2\r\n$3\r\nGETxx$1\r\nkyy".to_vec(),
            b"*2\r\n$3\r\nGET\r\n:1\r\n".to_vec(),
            b"*2\r\n$3\r\nGET\r\n$-1\r\n".to_vec(),
            b"*2\r\n$3\r\nGET\r\n$01\r\nk\r\n".to_vec(),
            b"*+2\r\n$3\r\nGET\r\n".to_vec(),
            b"*12\r\n$3\r\nGET\r\n".to_vec(),
            b"*2\r\n$3\r\nSET\r\n$20000\r\n".to_vec(),
            many,
        ];
        let limits = [
            DecodeLimits::default(),
            DecodeLimits {
                max_bulk_len: 4,
                authenticated: false,
            },
        ];
        for input in &inputs {
            for l in &limits {
                let key = |(cmds, res, left): (_, Result<(), _>, usize)| {
                    let left = if res.is_ok() { left } else { 0 };
                    (cmds, res, left)
                };
                let whole = key(decode_split(input, input.len(), l));
                for at in 0..input.len() {
                    assert_eq!(
                        key(decode_split(input, at, l)),
                        whole,
                        "input {:?} split at {at}",
                        String::from_utf8_lossy(input)
                    );
                }
            }
        }
    }

    #[test]
    fn inline_commands() {
        let (cmds, res, _) = decode_all(b"set k \"a b\\x41\\n\"\r\n\r\nget 'it\\'s'\n");
        assert_eq!(res, Ok(()));
        assert_eq!(
            cmds[0],
            vec![b"set".to_vec(), b"k".to_vec(), b"a bA\n".to_vec()]
        );
        assert_eq!(cmds[1], vec![b"get".to_vec(), b"it's".to_vec()]);
    }

    #[test]
    fn protocol_errors_have_redis_text() {
        let cases: &[(&[u8], &str)] = &[
            (b"*abc\r\n", "invalid multibulk length"),
            (b"*3000000000\r\n", "invalid multibulk length"),
            (b"*1\r\n$-1\r\n", "invalid bulk length"),
            (b"*1\r\n$999999999999\r\n", "invalid bulk length"),
            (b"*1\r\nx3\r\n", "expected '$', got 'x'"),
            (b"set \"a\r\n", "unbalanced quotes in request"),
            (b"set \"a\"b\r\n", "unbalanced quotes in request"),
        ];
        for (input, detail) in cases {
            let (_, res, _) = decode_all(input);
            assert_eq!(
                res.unwrap_err().detail(),
                *detail,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn huge_declarations_cost_nothing_until_bytes_arrive() {
        let mut dec = RequestDecoder::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n$5\r\nhello\r\n"[..]);
        let mut args = Vec::new();
        assert!(!dec
            .decode(&mut buf, &mut args, &DecodeLimits::default())
            .unwrap());
        assert!(dec.pending.capacity() < 1024);
        assert!(dec.in_progress());
    }

    #[test]
    fn endless_lines_are_refused() {
        let long = vec![b'a'; INLINE_MAX_SIZE + 1];
        let (_, res, _) = decode_all(&long);
        assert_eq!(res.unwrap_err().detail(), "too big inline request");
        let mut mb = b"*".to_vec();
        mb.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE + 1));
        let (_, res, _) = decode_all(&mb);
        assert_eq!(res.unwrap_err().detail(), "too big mbulk count string");
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = DecodeLimits {
            authenticated: false,
            ..Default::default()
        };
        let mut dec = RequestDecoder::new();
        let mut args = Vec::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        let err = dec.decode(&mut buf, &mut args, &limits).unwrap_err();
        assert_eq!(err.detail(), "unauthenticated multibulk length");
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b"01"[..],
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// Decodes `input` delivered in the given chunk sizes; returns the
    /// commands and the error, if any.
    fn decode_chunked(input: &[u8], chunks: &[usize]) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let mut dec = RequestDecoder::new();
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut sizes = chunks.iter().cycle();
        while pos < input.len() {
            let n = (*sizes.next().unwrap_or(&1)).max(1).min(input.len() - pos);
            buf.extend_from_slice(&input[pos..pos + n]);
            pos += n;
            loop {
                match dec.decode(&mut buf, &mut args, &DecodeLimits::default()) {
                    Ok(true) => out.push(args.clone()),
                    Ok(false) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    fn random_request(rng: &mut fastrand::Rng) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..rng.usize(1..20) {
            if rng.u8(..4) == 0 {
                let words: Vec<String> = (0..rng.usize(1..4))
                    .map(|_| (0..rng.usize(1..6)).map(|_| rng.alphanumeric()).collect())
                    .collect();
                out.extend_from_slice(words.join(" ").as_bytes());
                out.extend_from_slice(b"\r\n");
            } else {
                let n = rng.usize(1..6);
                out.extend_from_slice(format!("*{n}\r\n").as_bytes());
                for _ in 0..n {
                    let arg: Vec<u8> = (0..rng.usize(0..40)).map(|_| rng.u8(..)).collect();
                    out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                    out.extend_from_slice(&arg);
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        out
    }

    #[test]
    fn chunking_never_changes_the_result() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..300 {
            let input = random_request(&mut rng);
            let whole = decode_chunked(&input, &[input.len()]);
            assert!(whole.1.is_none(), "valid input rejected: {:?}", whole.1);
            let chunks: Vec<usize> = (0..5).map(|_| rng.usize(1..17)).collect();
            assert_eq!(decode_chunked(&input, &chunks), whole, "chunks {chunks:?}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(11);
        let alphabet = b"*$\r\n0123456789-abc \"'\\x";
        for _ in 0..3000 {
            let len = rng.usize(0..64);
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let _ = decode_chunked(&input, &[rng.usize(1..8)]);
        }
    }
}
