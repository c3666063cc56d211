//! Reading an answer's body by its framing (RFC 9112 §6.3): no body, a length, chunks, or up to
//! the close. Our own decoder rather than ureq-proto's, whose chunk reader refuses a size line
//! longer than 20 bytes (any chunk extension of a proxy's) and whose state machine must be
//! walked to its end to learn whether the connection may be reused; here every byte of the
//! framing is accounted for, so a connection goes back to the pool only when the answer ended
//! exactly where its framing says.

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body (204, 304, a HEAD answer; Content-Length: 0 reads as a length of 0).
    None,
    /// Content-Length.
    Length(u64),
    /// Transfer-Encoding: chunked.
    Chunked,
    /// Neither: the body ends when the server closes the connection.
    Close,
}

/// The longest chunk-size or trailer line read: a size, a chunk extension of any reasonable
/// length (proxies add names and values), a trailer field.
const MAX_LINE: usize = 8 * 1024;
/// All trailer fields together.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes to go.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one; bytes of trailers read.
    Trailers(usize),
    Done,
}

/// Why a body cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    /// Larger than the caller allows.
    TooLarge(u64),
    /// The chunked framing is broken.
    Chunks(&'static str),
}

/// An answer's body being read, within `limit` bytes.
#[derive(Debug)]
pub(super) struct Body {
    framing: Framing,
    /// Length framing: bytes still to come.
    left: u64,
    chunk: Chunk,
    limit: u64,
}

impl Body {
    pub(super) fn new(framing: Framing, limit: u64) -> Result<Body, BodyError> {
        if let Framing::Length(n) = framing {
            if n > limit {
                return Err(BodyError::TooLarge(limit));
            }
        }
        Ok(Body {
            framing,
            left: match framing {
                Framing::Length(n) => n,
                _ => 0,
            },
            chunk: Chunk::Size,
            limit,
        })
    }

    pub(super) fn framing(&self) -> Framing {
        self.framing
    }

    /// The body ended where its framing says (a close-delimited body ends only at the close).
    pub(super) fn is_done(&self) -> bool {
        match self.framing {
            Framing::None => true,
            Framing::Length(_) => self.left == 0,
            Framing::Chunked => self.chunk == Chunk::Done,
            Framing::Close => false,
        }
    }

    /// Whether the server closing the connection now leaves a whole body: the end of a
    /// close-delimited one, or a chunked one cut among its trailers (the last chunk came).
    pub(super) fn complete_at_close(&self) -> bool {
        match self.framing {
            Framing::Close => true,
            Framing::Chunked => matches!(self.chunk, Chunk::Trailers(_) | Chunk::Done),
            _ => self.is_done(),
        }
    }

    /// Decodes what it can of `input` onto the end of `out`; returns how many input bytes it
    /// took (0: it needs more input). Bytes after the body's end are never taken.
    pub(super) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, BodyError> {
        match self.framing {
            Framing::None => Ok(0),
            Framing::Length(_) => {
                let n = input
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[..n]);
                self.left -= n as u64;
                Ok(n)
            }
            Framing::Close => {
                self.check(out.len() as u64 + input.len() as u64)?;
                out.extend_from_slice(input);
                Ok(input.len())
            }
            Framing::Chunked => {
                let mut taken = 0;
                loop {
                    let n = self.chunked(&input[taken..], out)?;
                    if n == 0 {
                        return Ok(taken);
                    }
                    taken += n;
                }
            }
        }
    }

    fn check(&self, size: u64) -> Result<(), BodyError> {
        if size > self.limit {
            return Err(BodyError::TooLarge(self.limit));
        }
        Ok(())
    }

    /// One step of the chunked decoder; returns the input bytes it took.
    fn chunked(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, BodyError> {
        match self.chunk {
            Chunk::Done => Ok(0),
            Chunk::Size => {
                let Some(end) = line(input)? else {
                    return Ok(0);
                };
                let size = chunk_size(&input[..end])?;
                self.chunk = if size == 0 {
                    Chunk::Trailers(0)
                } else {
                    self.check(out.len() as u64 + size)?;
                    Chunk::Data(size)
                };
                Ok(end + 2)
            }
            Chunk::Data(left) => {
                let n = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[..n]);
                self.chunk = if n as u64 == left {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - n as u64)
                };
                Ok(n)
            }
            Chunk::DataEnd => match input {
                [b'\r', b'\n', ..] => {
                    self.chunk = Chunk::Size;
                    Ok(2)
                }
                [] | [b'\r'] => Ok(0),
                _ => Err(BodyError::Chunks("chunk data longer than its size")),
            },
            Chunk::Trailers(seen) => {
                let Some(end) = line(input)? else {
                    return Ok(0);
                };
                let seen = seen + end + 2;
                if seen > MAX_TRAILERS {
                    return Err(BodyError::Chunks("trailer fields too large"));
                }
                // The trailer fields are read past, not used: nothing of a quick return's
                // answer is carried in them.
                self.chunk = if end == 0 {
                    Chunk::Done
                } else {
                    Chunk::Trailers(seen)
                };
                Ok(end + 2)
            }
        }
    }
}

/// Where the CRLF ending the line at the start of `input` is, if it came yet.
fn line(input: &[u8]) -> Result<Option<usize>, BodyError> {
    match input.windows(2).position(|w| w == b"\r\n") {
        Some(end) if end <= MAX_LINE => Ok(Some(end)),
        Some(_) => Err(BodyError::Chunks("chunk or trailer line too long")),
        None if input.len() > MAX_LINE + 1 => {
            Err(BodyError::Chunks("chunk or trailer line too long"))
        }
        None => Ok(None),
    }
}

/// `chunk-size [ BWS ";" chunk-ext ]`: the hexadecimal size; the extensions are ignored, as
/// RFC 9112 §7.1.1 lets a recipient do.
fn chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(BodyError::Chunks("chunk size is not a hexadecimal number"));
    }
    let rest = &line[digits..];
    let rest = &rest[rest
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()..];
    if !(rest.is_empty() || rest[0] == b';') {
        return Err(BodyError::Chunks("chunk size is not a hexadecimal number"));
    }
    let hex = std::str::from_utf8(&line[..digits]).unwrap_or("");
    u64::from_str_radix(hex, 16).map_err(|_| BodyError::Chunks("chunk size too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `piece` bytes, as reads would bring it; returns the body and
    /// the bytes left after it.
    fn read(framing: Framing, input: &[u8], piece: usize) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
        let mut body = Body::new(framing, 1 << 20)?;
        let mut out = Vec::new();
        let mut buffered: Vec<u8> = Vec::new();
        for part in input.chunks(piece) {
            buffered.extend_from_slice(part);
            let n = body.feed(&buffered, &mut out)?;
            buffered.drain(..n);
            if body.is_done() {
                break;
            }
        }
        assert!(body.is_done(), "not done: {body:?}");
        Ok((out, buffered))
    }

    #[test]
    fn chunks_with_extensions_and_trailers_in_any_pieces() {
        let ext = "x".repeat(3000);
        let input = format!(
            "5;name=\"{ext}\"\r\nhello\r\n6 ; a=b\r\n world\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\nNEXT"
        );
        for piece in [1, 2, 3, 7, 64, 10_000] {
            let (body, rest) = read(Framing::Chunked, input.as_bytes(), piece).unwrap();
            assert_eq!(body, b"hello world", "piece {piece}");
            // What follows the body is never taken: it is surplus the caller must see.
            assert!(b"NEXT".starts_with(&rest), "piece {piece}: {rest:?}");
        }
    }

    #[test]
    fn a_length_takes_exactly_its_bytes() {
        let (body, rest) = read(Framing::Length(5), b"helloHTTP/1.1", 3).unwrap();
        assert_eq!(body, b"hello");
        assert!(b"HTTP/1.1".starts_with(&rest));
        assert!(Body::new(Framing::Length(0), 10).unwrap().is_done());
    }

    #[test]
    fn broken_chunks_are_refused() {
        for bad in [
            "zz\r\nhello\r\n0\r\n\r\n",
            "\r\nhello\r\n0\r\n\r\n",
            "5\r\nhelloX\r\n0\r\n\r\n",
            "5 5\r\nhello\r\n0\r\n\r\n",
            "11111111111111111\r\n",
        ] {
            let mut body = Body::new(Framing::Chunked, 1 << 20).unwrap();
            let mut out = Vec::new();
            assert!(
                matches!(
                    body.feed(bad.as_bytes(), &mut out),
                    Err(BodyError::Chunks(_))
                ),
                "{bad:?}"
            );
        }
        let long = format!("5;{}", "x".repeat(MAX_LINE + 10));
        let mut body = Body::new(Framing::Chunked, 1 << 20).unwrap();
        assert!(body.feed(long.as_bytes(), &mut Vec::new()).is_err());
    }

    #[test]
    fn the_limit_holds_in_every_framing() {
        assert_eq!(
            Body::new(Framing::Length(11), 10).unwrap_err(),
            BodyError::TooLarge(10)
        );
        let mut chunked = Body::new(Framing::Chunked, 10).unwrap();
        assert_eq!(
            chunked.feed(b"6\r\nabcdef\r\n6\r\n", &mut Vec::new()),
            Err(BodyError::TooLarge(10))
        );
        let mut close = Body::new(Framing::Close, 10).unwrap();
        let mut out = Vec::new();
        assert_eq!(close.feed(b"abcdef", &mut out), Ok(6));
        assert_eq!(close.feed(b"ghijk", &mut out), Err(BodyError::TooLarge(10)));
    }

    #[test]
    fn a_close_completes_only_what_may_end_there() {
        let mut chunked = Body::new(Framing::Chunked, 100).unwrap();
        let mut out = Vec::new();
        chunked.feed(b"2\r\nab\r\n", &mut out).unwrap();
        assert!(!chunked.complete_at_close());
        chunked.feed(b"0\r\n", &mut out).unwrap();
        assert!(chunked.complete_at_close());
        let length = Body::new(Framing::Length(3), 100).unwrap();
        assert!(!length.complete_at_close());
        assert!(Body::new(Framing::Close, 100).unwrap().complete_at_close());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any body, cut into any chunks with any extensions and trailers, arriving in any
        /// pieces, decodes to itself and leaves what follows it untouched.
        #[test]
        fn any_chunked_encoding_decodes_to_the_body(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            cuts in proptest::collection::vec(1usize..200, 1..8),
            ext in 0usize..500,
            trailers in 0usize..3,
            piece in 1usize..64,
        ) {
            let mut wire = Vec::new();
            let (mut at, mut i) = (0, 0);
            while at < body.len() {
                let n = cuts[i % cuts.len()].min(body.len() - at);
                wire.extend(format!("{n:x};e={}\r\n", "x".repeat(ext)).into_bytes());
                wire.extend(&body[at..at + n]);
                wire.extend(b"\r\n");
                at += n;
                i += 1;
            }
            wire.extend(b"0\r\n");
            for t in 0..trailers {
                wire.extend(format!("X-T{t}: v\r\n").into_bytes());
            }
            wire.extend(b"\r\nAFTER");
            let (out, rest) = read(Framing::Chunked, &wire, piece).unwrap();
            proptest::prop_assert_eq!(out, body);
            proptest::prop_assert!(b"AFTER".starts_with(&rest));
        }
    }
}
