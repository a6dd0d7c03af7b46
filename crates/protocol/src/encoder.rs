//! Reply encoding straight into a connection's output buffer.
//!
//! Every RESP3 type has a method here; under RESP2 each falls back to the form
//! Redis uses for it (maps become flat arrays, doubles bulk strings, null the
//! null bulk, booleans integers), so a handler writes one reply for both
//! protocols.

use bytes::{BufMut, BytesMut};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// Writes replies into `buf` for a client speaking `proto`.
pub struct Encoder<'a> {
    pub buf: &'a mut BytesMut,
    pub proto: Protocol,
}

impl<'a> Encoder<'a> {
    pub fn new(buf: &'a mut BytesMut, proto: Protocol) -> Self {
        Encoder { buf, proto }
    }

    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    fn line(&mut self, prefix: u8, body: &[u8]) {
        self.buf.reserve(body.len() + 3);
        self.buf.put_u8(prefix);
        self.buf.put_slice(body);
        self.buf.put_slice(b"\r\n");
    }

    fn len_line(&mut self, prefix: u8, n: i64) {
        let mut tmp = itoa_buf();
        let s = fmt_i64(n, &mut tmp);
        self.line(prefix, s);
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A simple string; CR and LF are replaced by spaces, as Redis does.
    pub fn simple(&mut self, s: &str) {
        self.line_sanitized(b'+', s.as_bytes());
    }

    /// An error reply. `msg` carries its own code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, msg: &str) {
        self.line_sanitized(b'-', msg.as_bytes());
    }

    fn line_sanitized(&mut self, prefix: u8, body: &[u8]) {
        if body.iter().any(|&b| b == b'\r' || b == b'\n') {
            let clean: Vec<u8> = body
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            self.line(prefix, &clean);
        } else {
            self.line(prefix, body);
        }
    }

    pub fn int(&mut self, n: i64) {
        self.len_line(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.len_line(b'$', data.len() as i64);
        self.buf.reserve(data.len() + 2);
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (how Redis replies to GET of an
    /// integer-encoded string).
    pub fn bulk_i64(&mut self, n: i64) {
        let mut tmp = itoa_buf();
        let s = fmt_i64(n, &mut tmp);
        let s = s.to_vec();
        self.bulk(&s);
    }

    /// The null of a missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.put_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.put_slice(b"_\r\n"),
        }
    }

    /// The null of a missing aggregate: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.put_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.put_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, n: usize) {
        self.len_line(b'*', n as i64);
    }

    /// A map of `n` pairs; RESP2 sees a flat array of `2n` elements.
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.len_line(b'*', 2 * n as i64),
            Protocol::Resp3 => self.len_line(b'%', n as i64),
        }
    }

    pub fn set(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.len_line(b'*', n as i64),
            Protocol::Resp3 => self.len_line(b'~', n as i64),
        }
    }

    /// An out-of-band push (pub/sub messages, invalidations).
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.len_line(b'*', n as i64),
            Protocol::Resp3 => self.len_line(b'>', n as i64),
        }
    }

    /// A double, formatted as Redis 7.0 does (`%.17g`, `inf`, `-inf`).
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        match self.proto {
            Protocol::Resp2 => self.bulk(s.as_bytes()),
            Protocol::Resp3 => self.line(b',', s.as_bytes()),
        }
    }

    pub fn boolean(&mut self, b: bool) {
        match self.proto {
            Protocol::Resp2 => self.int(b as i64),
            Protocol::Resp3 => self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A verbatim string (`=`) with a three letter format such as `txt`.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.len_line(b'=', (text.len() + 4) as i64);
                self.buf.put_slice(format.as_bytes());
                self.buf.put_u8(b':');
                self.buf.put_slice(text);
                self.buf.put_slice(b"\r\n");
            }
        }
    }

    pub fn big_number(&mut self, digits: &str) {
        match self.proto {
            Protocol::Resp2 => self.bulk(digits.as_bytes()),
            Protocol::Resp3 => self.line(b'(', digits.as_bytes()),
        }
    }

    /// Raw, already encoded protocol bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.put_slice(bytes);
    }
}

type ItoaBuf = [u8; 20];

fn itoa_buf() -> ItoaBuf {
    [0u8; 20]
}

/// Formats `n` in decimal into the tail of `tmp` without allocating.
fn fmt_i64(n: i64, tmp: &mut ItoaBuf) -> &[u8] {
    let mut i = tmp.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        tmp[i] = b'-';
    }
    &tmp[i..]
}

/// Formats a double as C's `printf("%.17g")` does, which is what Redis 7.0
/// uses for scores and RESP3 doubles; infinities are `inf` and `-inf`.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    const PREC: i32 = 17;
    // Scientific form with PREC significant digits gives the exponent that
    // %g uses to choose between fixed and exponential notation.
    let sci = format!("{:.*e}", (PREC - 1) as usize, d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..PREC).contains(&exp) {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", mantissa, sign, exp.abs())
    } else {
        let decimals = (PREC - 1 - exp).max(0) as usize;
        strip_fraction_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(proto: Protocol, f: impl FnOnce(&mut Encoder)) -> String {
        let mut buf = BytesMut::new();
        f(&mut Encoder::new(&mut buf, proto));
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn resp2_fallbacks() {
        assert_eq!(enc(Protocol::Resp2, |e| e.map(2)), "*4\r\n");
        assert_eq!(enc(Protocol::Resp2, |e| e.null()), "$-1\r\n");
        assert_eq!(enc(Protocol::Resp2, |e| e.null_array()), "*-1\r\n");
        assert_eq!(enc(Protocol::Resp2, |e| e.boolean(true)), ":1\r\n");
        assert_eq!(enc(Protocol::Resp2, |e| e.double(1.5)), "$3\r\n1.5\r\n");
        assert_eq!(enc(Protocol::Resp3, |e| e.map(2)), "%2\r\n");
        assert_eq!(enc(Protocol::Resp3, |e| e.null()), "_\r\n");
        assert_eq!(enc(Protocol::Resp3, |e| e.double(-2.0)), ",-2\r\n");
        assert_eq!(
            enc(Protocol::Resp3, |e| e.verbatim("txt", b"hi")),
            "=6\r\ntxt:hi\r\n"
        );
    }

    #[test]
    fn errors_lose_line_breaks() {
        assert_eq!(
            enc(Protocol::Resp2, |e| e.error("ERR a\r\nb")),
            "-ERR a  b\r\n"
        );
    }

    #[test]
    fn integers() {
        assert_eq!(
            enc(Protocol::Resp2, |e| e.int(i64::MIN)),
            ":-9223372036854775808\r\n"
        );
        assert_eq!(enc(Protocol::Resp2, |e| e.bulk_i64(-12)), "$3\r\n-12\r\n");
    }

    #[test]
    fn doubles_like_printf_g17() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(0.5), "0.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(123456.0), "123456");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(-3.25), "-3.25");
    }
}
