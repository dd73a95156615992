//! PostgreSQL's binary COPY format, read as a stream: the archive's rows are
//! counted and their primary keys taken without holding a row in memory.

use std::io::{self, Read};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// The server's own limit on one field (1 GiB): a larger length is corruption.
const MAX_FIELD: i32 = 1 << 30;

pub struct Rows<R: Read> {
    r: R,
    /// The field that holds the key, and its width (2, 4 or 8 bytes).
    key: usize,
    ended: bool,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// The end of the stream where more was due is truncation; any other error
/// (the export's disk full) is passed on as it is.
fn short(what: &'static str) -> impl Fn(io::Error) -> io::Error {
    move |e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            bad(what)
        } else {
            e
        }
    }
}

impl<R: Read> Rows<R> {
    /// Reads the header; `key` is the primary key's position among the columns.
    pub fn new(mut r: R, key: usize) -> io::Result<Rows<R>> {
        let mut sig = [0u8; 11];
        r.read_exact(&mut sig)
            .map_err(short("too short for a binary COPY header"))?;
        if &sig != SIGNATURE {
            return Err(bad("not PostgreSQL's binary COPY format"));
        }
        let _flags = read_i32(&mut r)?;
        let ext = read_i32(&mut r)?;
        if !(0..=MAX_FIELD).contains(&ext) {
            return Err(bad("bad header extension length"));
        }
        io::copy(&mut (&mut r).take(ext as u64), &mut io::sink())?;
        Ok(Rows {
            r,
            key,
            ended: false,
        })
    }

    /// The next row's key; `None` at the trailer. A stream that ends before
    /// the trailer is truncated, and an error.
    pub fn next_key(&mut self) -> io::Result<Option<i64>> {
        if self.ended {
            return Ok(None);
        }
        let mut n = [0u8; 2];
        self.r
            .read_exact(&mut n)
            .map_err(short("truncated: no end-of-data marker"))?;
        let n = i16::from_be_bytes(n);
        if n == -1 {
            self.ended = true;
            return Ok(None);
        }
        if n < 0 || self.key >= n as usize {
            return Err(bad(format!("a row of {n} fields")));
        }
        let mut key = None;
        for i in 0..n as usize {
            let len = read_i32(&mut self.r)?;
            if len == -1 {
                continue;
            }
            if !(0..=MAX_FIELD).contains(&len) {
                return Err(bad(format!("a field of {len} bytes")));
            }
            if i == self.key {
                let mut b = [0u8; 8];
                let b = match len {
                    2 | 4 | 8 => &mut b[..len as usize],
                    _ => return Err(bad(format!("a {len}-byte key is not an integer"))),
                };
                self.r.read_exact(b).map_err(short("truncated row"))?;
                key = Some(match len {
                    2 => i16::from_be_bytes([b[0], b[1]]) as i64,
                    4 => i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64,
                    _ => i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                });
            } else {
                let got = io::copy(&mut (&mut self.r).take(len as u64), &mut io::sink())?;
                if got != len as u64 {
                    return Err(bad("truncated row"));
                }
            }
        }
        key.map(Some)
            .ok_or_else(|| bad("a row without its primary key"))
    }
}

fn read_i32(r: &mut impl Read) -> io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(short("truncated"))?;
    Ok(i32::from_be_bytes(b))
}

/// What a whole stream holds: rows, key range, and whether keys ascend.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub rows: u64,
    pub key_min: Option<i64>,
    pub key_max: Option<i64>,
}

/// Reads every row; keys must strictly ascend (the export's ORDER BY).
pub fn summarize<R: Read>(rows: &mut Rows<R>) -> io::Result<Summary> {
    let mut s = Summary::default();
    while let Some(k) = rows.next_key()? {
        if s.key_max.is_some_and(|m| k <= m) {
            return Err(bad(format!("key {k} out of order")));
        }
        s.rows += 1;
        s.key_min.get_or_insert(k);
        s.key_max = Some(k);
    }
    Ok(s)
}

#[cfg(test)]
pub(crate) fn encode(rows: &[(i64, &[u8])]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.extend(0i32.to_be_bytes());
    out.extend(0i32.to_be_bytes());
    for (k, other) in rows {
        out.extend(2i16.to_be_bytes());
        out.extend(8i32.to_be_bytes());
        out.extend(k.to_be_bytes());
        out.extend((other.len() as i32).to_be_bytes());
        out.extend(*other);
    }
    out.extend((-1i16).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rows_and_key_range() {
        let data = encode(&[(3, b"a"), (7, b""), (9, b"xyz")]);
        let mut r = Rows::new(&data[..], 0).unwrap();
        assert_eq!(
            summarize(&mut r).unwrap(),
            Summary {
                rows: 3,
                key_min: Some(3),
                key_max: Some(9)
            }
        );
    }

    #[test]
    fn truncation_disorder_and_garbage_are_errors() {
        let data = encode(&[(3, b"a"), (7, b"b")]);
        let cut = &data[..data.len() - 2];
        assert!(summarize(&mut Rows::new(cut, 0).unwrap()).is_err());
        let unordered = encode(&[(7, b"a"), (3, b"b")]);
        let e = summarize(&mut Rows::new(&unordered[..], 0).unwrap()).unwrap_err();
        assert!(e.to_string().contains("out of order"));
        assert!(Rows::new(&b"id,created_at\n1,2"[..], 0).is_err());
        // The key is a text field here, not an integer.
        let data = encode(&[(3, b"a")]);
        assert!(summarize(&mut Rows::new(&data[..], 1).unwrap()).is_err());
    }
}
