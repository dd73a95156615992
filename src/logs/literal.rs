//! A case-insensitive ASCII word, searched for as itself rather than as its
//! dozens of spellings. A multi-pattern search (Teddy) pays a setup and a
//! verification among many patterns on every call, and a scan calls it once
//! per matching line: in a file where most lines match, that call was most
//! of the time. Here one call is two vector compares per 32 bytes on two
//! bytes of the word (letters folded with `| 0x20`), then one
//! case-insensitive compare of the word on a candidate: as cheap on a
//! line's first bytes as in a long run of non-matching text.

/// The word, for the leftmost-first search of all its ASCII spellings.
pub struct Folded {
    /// The word with its letters lowercased.
    word: Box<[u8]>,
    /// Two positions in the word that are compared first; rare bytes make
    /// few candidates.
    i1: usize,
    i2: usize,
    /// The word's bytes there, and what is OR-ed into the haystack's byte
    /// before the compare: `0x20` for a letter (only `A` and `a` become `a`),
    /// `0` otherwise (the byte must be equal).
    b1: u8,
    m1: u8,
    b2: u8,
    m2: u8,
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

impl Folded {
    /// `word`: non-empty ASCII; its letters match either case, other bytes
    /// only themselves.
    pub fn new(word: &[u8]) -> Folded {
        assert!(!word.is_empty() && word.is_ascii());
        let word: Box<[u8]> = word.to_ascii_lowercase().into();
        let (i1, i2) = memchr::arch::all::packedpair::Pair::new(&word).map_or((0, 0), |p| {
            (usize::from(p.index1()), usize::from(p.index2()))
        });
        let mask = |b: u8| if b.is_ascii_alphabetic() { 0x20 } else { 0 };
        Folded {
            i1,
            i2,
            b1: word[i1],
            m1: mask(word[i1]),
            b2: word[i2],
            m2: mask(word[i2]),
            word,
            #[cfg(target_arch = "x86_64")]
            avx2: std::is_x86_feature_detected!("avx2"),
        }
    }

    /// Where the leftmost occurrence starting at or after `start` ends (all
    /// spellings are equally long, so it is also the earliest to end).
    #[inline]
    pub fn find_end(&self, hay: &[u8], start: usize) -> Option<usize> {
        self.find(hay, start).map(|i| i + self.word.len())
    }

    /// Where the leftmost occurrence starting at or after `start` starts.
    #[inline]
    pub fn find(&self, hay: &[u8], start: usize) -> Option<usize> {
        if hay.len() < self.word.len() || start > hay.len() - self.word.len() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: AVX2 was detected at run time; SSE2 is part of x86_64.
            if self.avx2 {
                return unsafe { self.find_avx2(hay, start) };
            }
            unsafe { self.find_sse2(hay, start) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.find_scalar(hay, start)
    }

    #[inline(always)]
    fn verify(&self, hay: &[u8], i: usize) -> bool {
        hay.get(i..i + self.word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(&self.word))
    }

    /// The candidates from `start` on, one at a time: the tail the vector
    /// loops leave, and the whole search elsewhere.
    fn find_scalar(&self, hay: &[u8], start: usize) -> Option<usize> {
        let last = hay.len().checked_sub(self.word.len())?;
        (start..=last).find(|&i| {
            (hay[i + self.i1] | self.m1) == self.b1
                && (hay[i + self.i2] | self.m2) == self.b2
                && self.verify(hay, i)
        })
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn find_avx2(&self, hay: &[u8], start: usize) -> Option<usize> {
        use std::arch::x86_64::*;
        const W: usize = 32;
        let reach = self.i1.max(self.i2);
        let (b1, m1) = (
            _mm256_set1_epi8(self.b1 as i8),
            _mm256_set1_epi8(self.m1 as i8),
        );
        let (b2, m2) = (
            _mm256_set1_epi8(self.b2 as i8),
            _mm256_set1_epi8(self.m2 as i8),
        );
        let p = hay.as_ptr();
        let mut i = start;
        while i + reach + W <= hay.len() {
            // SAFETY: both loads end at or before i + reach + W <= hay.len().
            let (x, y) = unsafe {
                (
                    _mm256_loadu_si256(p.add(i + self.i1).cast()),
                    _mm256_loadu_si256(p.add(i + self.i2).cast()),
                )
            };
            let eq = _mm256_and_si256(
                _mm256_cmpeq_epi8(_mm256_or_si256(x, m1), b1),
                _mm256_cmpeq_epi8(_mm256_or_si256(y, m2), b2),
            );
            let mut bits = _mm256_movemask_epi8(eq) as u32;
            while bits != 0 {
                let c = i + bits.trailing_zeros() as usize;
                if self.verify(hay, c) {
                    return Some(c);
                }
                bits &= bits - 1;
            }
            i += W;
        }
        self.find_scalar(hay, i)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    unsafe fn find_sse2(&self, hay: &[u8], start: usize) -> Option<usize> {
        use std::arch::x86_64::*;
        const W: usize = 16;
        let reach = self.i1.max(self.i2);
        let (b1, m1) = (_mm_set1_epi8(self.b1 as i8), _mm_set1_epi8(self.m1 as i8));
        let (b2, m2) = (_mm_set1_epi8(self.b2 as i8), _mm_set1_epi8(self.m2 as i8));
        let p = hay.as_ptr();
        let mut i = start;
        while i + reach + W <= hay.len() {
            // SAFETY: both loads end at or before i + reach + W <= hay.len().
            let (x, y) = unsafe {
                (
                    _mm_loadu_si128(p.add(i + self.i1).cast()),
                    _mm_loadu_si128(p.add(i + self.i2).cast()),
                )
            };
            let eq = _mm_and_si128(
                _mm_cmpeq_epi8(_mm_or_si128(x, m1), b1),
                _mm_cmpeq_epi8(_mm_or_si128(y, m2), b2),
            );
            let mut bits = _mm_movemask_epi8(eq) as u32;
            while bits != 0 {
                let c = i + bits.trailing_zeros() as usize;
                if self.verify(hay, c) {
                    return Some(c);
                }
                bits &= bits - 1;
            }
            i += W;
        }
        self.find_scalar(hay, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every start, every path (vector, SSE2, scalar), against a plain
    /// scan, on text with the word in many spellings near every boundary.
    #[test]
    fn finds_the_leftmost_spelling_from_every_start_on_every_path() {
        let mut hay = Vec::new();
        for k in 0..300u32 {
            hay.extend_from_slice(match k % 7 {
                0 => b"eRRor".as_slice(),
                1 => b"erro",
                2 => b"\xffERROR\n",
                3 => b"xx-err=r",
                4 => b"Err-42",
                _ => b"abcdefghij",
            });
            hay.extend(std::iter::repeat_n(b'.', (k % 37) as usize));
        }
        for word in [&b"error"[..], b"err-42", b"r", b"=r", b"rr"] {
            let f = Folded::new(word);
            let plain = |s: usize| {
                (s..=hay.len().saturating_sub(word.len())).find(|&i| {
                    hay[i..].len() >= word.len()
                        && hay[i..i + word.len()].eq_ignore_ascii_case(word)
                })
            };
            for start in 0..=hay.len() {
                let want = plain(start);
                assert_eq!(f.find(&hay, start), want, "{word:?} from {start}");
                assert_eq!(f.find_scalar(&hay, start), want, "{word:?} from {start}");
                #[cfg(target_arch = "x86_64")]
                assert_eq!(unsafe { f.find_sse2(&hay, start) }, want);
            }
        }
    }
}
