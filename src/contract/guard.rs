//! Defences of the Parquet reader against hostile and broken files.
//!
//! The parquet crate believes what a file says about itself: offsets and
//! sizes in the footer, sizes in each page header, value counts that run-length
//! encoding can expand at no cost. Some lies make it panic, some make it
//! allocate what the header claims (an allocation it cannot get aborts the
//! process, which no `catch_unwind` can stop). This module checks, before
//! anything is decoded:
//!
//! - the magic number at both ends (`check_ends`);
//! - every column chunk lying inside the file's data, between the leading
//!   magic and the footer (`check_footer`);
//! - every page header of the chunks about to be decoded: its sizes inside
//!   its chunk, its uncompressed size at most [`PAGE_FLOOR`] or
//!   [`PAGE_RATIO`] times its stored size (`check_pages`);
//!
//! and, while decoding, bounds the decoded arrays (`Budget`: [`DECODE_RATIO`]
//! times the file's length, at least [`DECODE_FLOOR`]) and the rows of each
//! row group to what its footer says.
//! Panics the decoder still raises are contained by `contain` and become an
//! error naming the file; the default panic message is then not printed.
//!
//! It reads no values and judges no rows (that is [`super::read`] and
//! [`super::load`]).

use std::cell::Cell;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

use parquet::file::metadata::ParquetMetaData;

thread_local! {
    /// How many [`contain`] calls are running on this thread.
    static CONTAINED: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`, turning a panic into `Err(its message)`.
///
/// A panic inside `f` is expected (the decoder's, on a malformed file), so
/// the process's panic hook stays silent for it: the message becomes the
/// error's text instead of a "panicked at" line on stderr. Panics on other
/// threads, or outside `contain`, are reported as before. `f` must not wait
/// on other threads' work (a rayon join would run other tasks on this thread
/// with the hook silenced): call `contain` inside each parallel task instead.
pub(super) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    CONTAINED.with(|c| c.set(c.get() + 1));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(c.get() - 1));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "an unknown failure".into())
    })
}

/// Installs (once) a panic hook that is silent inside [`contain`] and calls
/// the hook it replaced everywhere else.
fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINED.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

/// Decoded bytes allowed for any file, however small (a small test file of
/// repeated values may decode to many times its size, but not to this).
pub const DECODE_FLOOR: u64 = 64 << 20;
/// Decoded bytes allowed per byte of file, above [`DECODE_FLOOR`]. The
/// sample's tables decode to 3 to 18 times their size (zstd over
/// dictionaries and runs, measured with `get_array_memory_size`): 256
/// leaves room for far more repetitive data than an export has, and keeps
/// what a hostile file can make a run hold (its rows, then their rejects)
/// proportional to it.
pub const DECODE_RATIO: u64 = 256;
/// Uncompressed size any page may claim. Writers cut pages at about 1 MiB.
pub const PAGE_FLOOR: u64 = 64 << 20;
/// Uncompressed bytes a page may claim per stored byte, above [`PAGE_FLOOR`].
pub const PAGE_RATIO: u64 = 1024;

const MAGIC: &[u8; 4] = b"PAR1";

/// Checks the magic number at both ends of a file of `len` bytes and returns
/// the offset where its footer (the file metadata) starts.
pub(super) fn check_ends(file: &File, len: u64) -> Result<u64, String> {
    if len < 12 {
        return Err(format!(
            "{len} bytes: too short to be Parquet (12 bytes at least)"
        ));
    }
    let mut head = [0u8; 4];
    let mut tail = [0u8; 8];
    let mut r = file;
    let read = (|| {
        r.seek(SeekFrom::Start(0))?;
        r.read_exact(&mut head)?;
        r.seek(SeekFrom::Start(len - 8))?;
        r.read_exact(&mut tail)
    })();
    read.map_err(|e| format!("cannot read: {e}"))?;
    if &head != MAGIC || &tail[4..] != MAGIC {
        return Err(format!(
            "no Parquet magic number (PAR1) at its start and end (found {:?} and {:?})",
            String::from_utf8_lossy(&head),
            String::from_utf8_lossy(&tail[4..])
        ));
    }
    let footer = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    if footer > len - 12 {
        return Err(format!(
            "its footer claims {footer} bytes, more than the file's {len}"
        ));
    }
    Ok(len - 8 - footer)
}

/// Checks that every column chunk the footer describes lies inside the
/// file's data (`4..data_end`) and that no count is negative.
pub(super) fn check_footer(meta: &ParquetMetaData, data_end: u64) -> Result<(), String> {
    for (g, rg) in meta.row_groups().iter().enumerate() {
        if rg.num_rows() < 0 {
            return Err(format!("row group {g} claims {} rows", rg.num_rows()));
        }
        for c in rg.columns() {
            let name = c.column_path().string();
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let end = start.checked_add(c.compressed_size());
            let inside = |o: i64| o >= 4 && (o as u64) <= data_end;
            let ok = c.compressed_size() >= 0
                && c.uncompressed_size() >= 0
                && c.num_values() >= 0
                && inside(start)
                && end.is_some_and(inside)
                && c.data_page_offset() >= start
                && end.is_some_and(|e| c.data_page_offset() <= e);
            if !ok {
                return Err(format!(
                    "column `{name}` of row group {g} claims bytes {start}..{} (data page at {}) of a file whose data ends at byte {data_end}",
                    end.map_or_else(|| "overflow".into(), |e| e.to_string()),
                    c.data_page_offset(),
                ));
            }
        }
    }
    Ok(())
}

/// Walks the page headers of row group `group`'s `leaves` (column indices)
/// and checks each page's sizes: stored size inside its chunk, uncompressed
/// size at most `max(PAGE_FLOOR, PAGE_RATIO * stored)`. Run after
/// [`check_footer`]; reads the headers only.
pub(super) fn check_pages(
    file: &File,
    meta: &ParquetMetaData,
    group: usize,
    leaves: &[usize],
) -> Result<(), String> {
    let mut r = BufReader::with_capacity(8 << 10, file);
    for &leaf in leaves {
        let c = meta.row_group(group).column(leaf);
        let name = c.column_path().string();
        let (start, len) = c.byte_range();
        let end = start + len;
        let mut at = start;
        while at < end {
            let fail = |what: String| format!("column `{name}`, page at byte {at}: {what}");
            r.seek(SeekFrom::Start(at))
                .map_err(|e| fail(e.to_string()))?;
            let mut p = Compact {
                r: &mut r,
                left: end - at,
                used: 0,
            };
            let h = p.page_header().map_err(&fail)?;
            let header = p.used;
            let (Ok(stored), Ok(plain)) = (u64::try_from(h.stored), u64::try_from(h.plain)) else {
                return Err(fail(format!(
                    "negative page size (stored {}, uncompressed {})",
                    h.stored, h.plain
                )));
            };
            if header + stored > end - at {
                return Err(fail(format!(
                    "the page claims {stored} bytes; its column chunk has {} left",
                    end - at - header
                )));
            }
            let allowed = PAGE_FLOOR.max(PAGE_RATIO.saturating_mul(stored));
            if plain > allowed {
                return Err(fail(format!(
                    "the page claims to uncompress to {plain} bytes from {stored}; at most {allowed} are allowed"
                )));
            }
            at += header + stored;
        }
    }
    Ok(())
}

/// The decoded bytes one file may produce: shared by the tasks decoding its
/// row groups.
#[derive(Debug)]
pub(super) struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    /// The budget of a file of `len` bytes: `max(DECODE_FLOOR, DECODE_RATIO * len)`.
    pub(super) fn for_file(len: u64) -> Self {
        Self {
            limit: DECODE_FLOOR.max(DECODE_RATIO.saturating_mul(len)),
            used: AtomicU64::new(0),
        }
    }

    /// Counts `bytes` more decoded bytes; an error once over the limit.
    pub(super) fn charge(&self, bytes: usize) -> Result<(), String> {
        let used = self.used.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        if used > self.limit {
            return Err(format!(
                "it decodes to more than {} bytes ({} times its size, at least {} MiB): refused as a memory bomb",
                self.limit,
                DECODE_RATIO,
                DECODE_FLOOR >> 20
            ));
        }
        Ok(())
    }
}

/// The sizes of a page header.
struct PageSizes {
    /// `compressed_page_size`: bytes stored after the header.
    stored: i32,
    /// `uncompressed_page_size`.
    plain: i32,
}

/// A reader of the Thrift compact protocol, just enough to find a page
/// header's sizes and skip everything else, never reading past `left` bytes.
struct Compact<'a, R: Read> {
    r: &'a mut R,
    /// Bytes that may still be read.
    left: u64,
    /// Bytes read so far.
    used: u64,
}

/// Thrift compact type ids.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const STRUCT: u8 = 12;
/// Structs nest at most this deep in a page header (statistics: 2).
const MAX_DEPTH: u32 = 8;

impl<R: Read> Compact<'_, R> {
    fn bytes(&mut self, n: u64) -> Result<(), String> {
        if n > self.left {
            return Err(format!(
                "the page header claims a field of {n} bytes; {} are left in the column chunk",
                self.left
            ));
        }
        let copied =
            std::io::copy(&mut self.r.take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
        if copied != n {
            return Err("the page header ends before the file".into());
        }
        self.left -= n;
        self.used += n;
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, String> {
        if self.left == 0 {
            return Err("the page header runs past its column chunk".into());
        }
        let mut b = [0u8];
        self.r
            .read_exact(&mut b)
            .map_err(|_| "the page header ends before the file".to_string())?;
        self.left -= 1;
        self.used += 1;
        Ok(b[0])
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a malformed number in the page header".into())
    }

    fn i32(&mut self) -> Result<i32, String> {
        let z = self.varint()?;
        let v = ((z >> 1) as i64) ^ -((z & 1) as i64);
        i32::try_from(v).map_err(|_| format!("a page size of {v} does not fit 32 bits"))
    }

    /// Skips a value of compact type `ty`.
    fn skip(&mut self, ty: u8, depth: u32) -> Result<(), String> {
        match ty {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            3 => self.byte().map(drop),
            4..=6 => self.varint().map(drop),
            7 => self.bytes(8),
            8 => {
                let n = self.varint()?;
                self.bytes(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let elem = h & 0x0F;
                let n = match u64::from(h >> 4) {
                    15 => self.varint()?,
                    n => n,
                };
                // Every element takes a byte at least.
                if n > self.left {
                    return Err(format!("a list of {n} elements in the page header"));
                }
                for _ in 0..n {
                    self.element(elem, depth)?;
                }
                Ok(())
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                if n > self.left {
                    return Err(format!("a map of {n} entries in the page header"));
                }
                let kv = self.byte()?;
                for _ in 0..n {
                    self.element(kv >> 4, depth)?;
                    self.element(kv & 0x0F, depth)?;
                }
                Ok(())
            }
            STRUCT => self.fields(depth + 1, |_, _, _| Ok(false)),
            13 => self.bytes(16),
            t => Err(format!("unknown Thrift type {t} in the page header")),
        }
    }

    /// A list or map element: booleans take a byte there.
    fn element(&mut self, ty: u8, depth: u32) -> Result<(), String> {
        match ty {
            BOOL_TRUE | BOOL_FALSE => self.byte().map(drop),
            t => self.skip(t, depth),
        }
    }

    /// Reads a struct's fields up to its stop byte; `visit(self, id, type)`
    /// reads a field it wants and returns true, or false to have it skipped.
    fn fields(
        &mut self,
        depth: u32,
        mut visit: impl FnMut(&mut Self, i16, u8) -> Result<bool, String>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("the page header nests too deeply".into());
        }
        let mut id: i16 = 0;
        loop {
            let h = self.byte()?;
            if h == 0 {
                return Ok(());
            }
            let ty = h & 0x0F;
            id = match h >> 4 {
                0 => {
                    let z = self.varint()?;
                    ((z >> 1) as i16) ^ -((z & 1) as i16)
                }
                delta => id.wrapping_add(i16::from(delta)),
            };
            if !visit(self, id, ty)? {
                self.skip(ty, depth)?;
            }
        }
    }

    /// Reads a `PageHeader`: 2 uncompressed_page_size, 3 compressed_page_size.
    fn page_header(&mut self) -> Result<PageSizes, String> {
        let (mut plain, mut stored) = (None, None);
        self.fields(0, |p, id, ty| match (id, ty) {
            (2, 5) => {
                plain = Some(p.i32()?);
                Ok(true)
            }
            (3, 5) => {
                stored = Some(p.i32()?);
                Ok(true)
            }
            _ => Ok(false),
        })?;
        match (stored, plain) {
            (Some(stored), Some(plain)) => Ok(PageSizes { stored, plain }),
            _ => Err("a page header without its sizes".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page header in the compact protocol: type, sizes, and a data page
    /// header holding a statistics struct with one binary field.
    fn header(plain: u32, stored: u32, stat_len: u64) -> Vec<u8> {
        fn varint(out: &mut Vec<u8>, mut v: u64) {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        let mut h = vec![0x15, 0x00]; // 1: type = 0
        h.push(0x15); // 2: uncompressed size
        varint(&mut h, u64::from(plain) << 1);
        h.push(0x15); // 3: compressed size
        varint(&mut h, u64::from(stored) << 1);
        h.push(0x2C); // 5: data page header (struct)
        h.extend([0x15, 0x06]); // 1: num_values = 3
        h.push(0x4C); // 5: statistics (struct)
        h.push(0x58); // 5: max_value (binary)
        varint(&mut h, stat_len);
        h.extend(std::iter::repeat_n(7u8, stat_len.min(8) as usize));
        h.extend([0x00, 0x00, 0x00]); // end statistics, data page header, header
        h
    }

    fn sizes(bytes: &[u8]) -> Result<(i32, i32, u64), String> {
        let mut r = std::io::Cursor::new(bytes);
        let mut p = Compact {
            r: &mut r,
            left: bytes.len() as u64,
            used: 0,
        };
        let s = p.page_header()?;
        Ok((s.plain, s.stored, p.used))
    }

    #[test]
    fn reads_page_sizes_and_skips_the_rest() {
        let h = header(1000, 200, 8);
        assert_eq!(sizes(&h), Ok((1000, 200, h.len() as u64)));
    }

    #[test]
    fn rejects_fields_longer_than_what_is_left() {
        let h = header(1000, 200, 1 << 40);
        let e = sizes(&h).unwrap_err();
        assert!(e.contains("1099511627776 bytes"), "{e}");
        // Cut anywhere, a header is an error, never a panic.
        let h = header(1000, 200, 8);
        for cut in 0..h.len() {
            assert!(sizes(&h[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn rejects_deep_nesting_and_unknown_types() {
        let mut deep = vec![0x1C; 64]; // struct in struct in ...
        deep.extend([0u8; 64]);
        assert!(sizes(&deep).unwrap_err().contains("nests too deeply"));
        assert!(sizes(&[0x1E, 0x00])
            .unwrap_err()
            .contains("unknown Thrift type"));
    }

    /// The metadata of a small real file, and its data's end.
    fn small_file_metadata() -> (ParquetMetaData, u64, File, tempfile::TempDir) {
        use arrow::array::{ArrayRef, Int64Array, RecordBatch};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let ids: ArrayRef = std::sync::Arc::new(Int64Array::from_iter_values(0..100));
        let batch = RecordBatch::try_from_iter([("borrower_id", ids)]).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            File::create(&path).unwrap(),
            batch.schema(),
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let file = File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        let data_end = check_ends(&file, len).unwrap();
        let meta = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .unwrap();
        (meta, data_end, file, dir)
    }

    /// `meta` with its first column chunk changed by `f`.
    fn with_chunk(
        meta: &ParquetMetaData,
        f: impl Fn(
            parquet::file::metadata::ColumnChunkMetaDataBuilder,
        ) -> parquet::file::metadata::ColumnChunkMetaDataBuilder,
    ) -> ParquetMetaData {
        let rg = meta.row_group(0).clone();
        let chunk = f(rg.column(0).clone().into_builder()).build().unwrap();
        let rg = rg
            .into_builder()
            .set_column_metadata(vec![chunk])
            .build()
            .unwrap();
        ParquetMetaData::new(meta.file_metadata().clone(), vec![rg])
    }

    #[test]
    fn rejects_column_chunks_outside_the_file_and_pages_outside_their_chunk() {
        let (meta, data_end, file, _dir) = small_file_metadata();
        assert_eq!(check_footer(&meta, data_end), Ok(()));
        assert_eq!(check_pages(&file, &meta, 0, &[0]), Ok(()));
        let huge = with_chunk(&meta, |c| c.set_total_compressed_size(1 << 40));
        assert!(check_footer(&huge, data_end)
            .unwrap_err()
            .contains("borrower_id"));
        let negative = with_chunk(&meta, |c| {
            c.set_data_page_offset(-5).set_dictionary_page_offset(None)
        });
        assert!(check_footer(&negative, data_end).is_err());
        // A chunk cut short: its last page runs past the chunk's end.
        let size = meta.row_group(0).column(0).compressed_size();
        let short = with_chunk(&meta, |c| c.set_total_compressed_size(size - 1));
        assert_eq!(check_footer(&short, data_end), Ok(()));
        assert!(check_pages(&file, &short, 0, &[0])
            .unwrap_err()
            .contains("left"));
    }

    #[test]
    fn rejects_a_wrong_magic_number_at_either_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        for bytes in [
            &b"PAR1xxxxPAR0"[..],
            b"PAR0\x00\x00\x00\x00\x00\x00\x00\x00PAR1",
            b"PAR1",
        ] {
            std::fs::write(&path, bytes).unwrap();
            let file = File::open(&path).unwrap();
            assert!(check_ends(&file, bytes.len() as u64).is_err());
        }
        // A footer longer than the file.
        std::fs::write(&path, b"PAR1\x00\x00\x00\x00\xff\x00\x00\x00PAR1").unwrap();
        let file = File::open(&path).unwrap();
        assert!(check_ends(&file, 16)
            .unwrap_err()
            .contains("footer claims 255 bytes"));
    }

    #[test]
    fn contained_panics_become_errors() {
        assert_eq!(contain(|| 7), Ok(7));
        let e = contain(|| -> u8 { panic!("bad page {}", 3) }).unwrap_err();
        assert_eq!(e, "bad page 3");
        // Nested, and the count back to zero afterwards.
        let outer = contain(|| contain(|| panic!("inner")).unwrap_err());
        assert_eq!(outer.as_deref(), Ok("inner"));
        assert_eq!(CONTAINED.with(Cell::get), 0);
    }

    #[test]
    fn the_budget_is_a_multiple_of_the_file_with_a_floor() {
        let b = Budget::for_file(1000);
        assert!(b.charge(DECODE_FLOOR as usize).is_ok());
        assert!(b.charge(1).unwrap_err().contains("memory bomb"));
        let big = Budget::for_file(1 << 30);
        assert!(big.charge((DECODE_RATIO << 30) as usize).is_ok());
    }
}
