//! A minimal blocking RESP client: enough to configure a server, read INFO
//! and load keys. It speaks to Redis and Ferrocache alike.

use ferrocache_protocol::frame::{self, Frame};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Client {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends one command and waits for its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> io::Result<Frame> {
        let mut out = Vec::new();
        encode(&mut out, args);
        self.stream.write_all(&out)?;
        self.read_reply()
    }

    /// Sends a command made of string arguments; an error reply becomes `Err`.
    pub fn ok(&mut self, args: &[&str]) -> io::Result<Frame> {
        let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        match self.cmd(&raw)? {
            Frame::Error(e) => Err(io::Error::other(format!(
                "{}: {}",
                args.join(" "),
                String::from_utf8_lossy(&e)
            ))),
            f => Ok(f),
        }
    }

    /// Writes raw, already encoded commands.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one reply.
    pub fn read_reply(&mut self) -> io::Result<Frame> {
        loop {
            match frame::parse(&self.buf) {
                Ok(Some((f, used))) => {
                    self.buf.drain(..used);
                    return Ok(f);
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::other(format!("bad reply: {}", e.0))),
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// `INFO <section>` as name/value pairs.
    pub fn info(&mut self, section: &str) -> io::Result<Vec<(String, String)>> {
        let text = match self.ok(&["INFO", section])? {
            Frame::Bulk(b) | Frame::Verbatim(b) => String::from_utf8_lossy(&b).into_owned(),
            other => return Err(io::Error::other(format!("INFO replied {other:?}"))),
        };
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect())
    }

    /// One INFO field, if the server reports it.
    pub fn info_field(&mut self, section: &str, name: &str) -> io::Result<Option<String>> {
        Ok(self
            .info(section)?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v))
    }
}

/// Appends a command in multibulk form.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
