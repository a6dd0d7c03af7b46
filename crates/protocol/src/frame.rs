//! Parsing of any RESP2/RESP3 frame, for the client side of the protocol:
//! integration tests, the differential test harness and the replica link.
//! Servers parse requests with [`crate::RequestDecoder`] instead.

use crate::decoder::parse_i64;

/// A decoded RESP value. Doubles keep their wire text so that tests compare
/// exactly what was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Null,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Double(Vec<u8>),
    Boolean(bool),
    BigNumber(Vec<u8>),
    Verbatim(Vec<u8>),
    Attribute(Vec<(Frame, Frame)>),
}

/// Why a buffer does not hold a valid frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError(pub String);

const MAX_DEPTH: usize = 64;

/// Parses one frame from the start of `buf`: `Ok(None)` if it is incomplete,
/// otherwise the frame and the number of bytes it used.
pub fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut pos = 0;
    match parse_at(buf, &mut pos, 0)? {
        Some(f) => Ok(Some((f, pos))),
        None => Ok(None),
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let rel = buf[start..].windows(2).position(|w| w == b"\r\n")?;
    *pos = start + rel + 2;
    Some(&buf[start..start + rel])
}

fn int(s: &[u8]) -> Result<i64, FrameError> {
    parse_i64(s).ok_or_else(|| FrameError(format!("bad integer {:?}", String::from_utf8_lossy(s))))
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Frame>, FrameError> {
    if depth > MAX_DEPTH {
        return Err(FrameError("nesting too deep".into()));
    }
    let Some(&tag) = buf.get(*pos) else {
        return Ok(None);
    };
    *pos += 1;
    let Some(body) = line(buf, pos) else {
        return Ok(None);
    };
    let frame = match tag {
        b'+' => Frame::Simple(body.to_vec()),
        b'-' => Frame::Error(body.to_vec()),
        b':' => Frame::Integer(int(body)?),
        b',' => Frame::Double(body.to_vec()),
        b'(' => Frame::BigNumber(body.to_vec()),
        b'#' => match body {
            b"t" => Frame::Boolean(true),
            b"f" => Frame::Boolean(false),
            _ => return Err(FrameError("bad boolean".into())),
        },
        b'_' => Frame::Null,
        b'$' | b'=' | b'!' => {
            let n = int(body)?;
            if n < 0 {
                return Ok(Some(Frame::Null));
            }
            let n = n as usize;
            if buf.len() < *pos + n + 2 {
                return Ok(None);
            }
            let data = buf[*pos..*pos + n].to_vec();
            *pos += n + 2;
            match tag {
                b'$' => Frame::Bulk(data),
                b'=' => Frame::Verbatim(data),
                _ => Frame::Error(data),
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = int(body)?;
            if n < 0 {
                return Ok(Some(Frame::Null));
            }
            let pairs = matches!(tag, b'%' | b'|');
            let count = if pairs { n as usize * 2 } else { n as usize };
            // Never trust the count: grow as elements actually parse.
            let mut items = Vec::with_capacity(count.min(64));
            for _ in 0..count {
                match parse_at(buf, pos, depth + 1)? {
                    Some(f) => items.push(f),
                    None => return Ok(None),
                }
            }
            match tag {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut it = items.into_iter();
                    let mut kv = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        kv.push((k, v));
                    }
                    if tag == b'%' {
                        Frame::Map(kv)
                    } else {
                        Frame::Attribute(kv)
                    }
                }
            }
        }
        other => return Err(FrameError(format!("unknown type byte {:?}", other as char))),
    };
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_incomplete() {
        let input = b"*2\r\n$1\r\na\r\n%1\r\n+k\r\n:5\r\n";
        let (f, used) = parse(input).unwrap().unwrap();
        assert_eq!(used, input.len());
        assert_eq!(
            f,
            Frame::Array(vec![
                Frame::Bulk(b"a".to_vec()),
                Frame::Map(vec![(Frame::Simple(b"k".to_vec()), Frame::Integer(5))])
            ])
        );
        for cut in 0..input.len() {
            assert_eq!(parse(&input[..cut]).unwrap(), None, "cut at {cut}");
        }
    }
}
