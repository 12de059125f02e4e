//! Checks of a Parquet file's footer before any page of it is decoded.
//!
//! The Parquet decoder trusts the footer. A damaged or hostile one can send
//! it outside the file, or make a few kilobytes decode into gigabytes: pages
//! of run-length-encoded nulls can declare millions of rows in a few bytes,
//! and each such row is then kept as a reject (a 158 kB file of 20 million
//! null rows took a debug build's run 90 s and 6 GB). [`check`] refuses such
//! a file as unreadable bad input, so that what a run can hold in memory is
//! bounded by the size of its input files.
//!
//! It judges only the footer's structure; the schema is judged by
//! [`super::read`], and the rows by [`super::load`].

use parquet::file::metadata::ParquetMetaData;

/// The most rows a Parquet file may declare per byte of its size.
///
/// Real ledgers take 3 to 11 bytes a row (the sample and the 1M-borrower
/// bench ledger alike: 0.09 to 0.32 rows a byte; ids, dates and amounts vary
/// from row to row), so 64 rows a byte is 200 times any real table; a file
/// declaring more is refused before it is decoded. A run's memory then stays
/// proportional to the size of its files: at most 64 rows for each byte.
pub const MAX_ROWS_PER_BYTE: u64 = 64;

/// Checks that the footer `meta` of a `file_len`-byte file declares no
/// negative row count, no more rows than [`MAX_ROWS_PER_BYTE`] allows, and
/// no column chunk outside the file. The error is what is wrong, for
/// [`super::ContractError::Unreadable`].
pub fn check(meta: &ParquetMetaData, file_len: u64) -> Result<(), String> {
    let mut rows: u64 = 0;
    for (g, group) in meta.row_groups().iter().enumerate() {
        let Ok(n) = u64::try_from(group.num_rows()) else {
            return Err(format!("row group {g} declares {} rows", group.num_rows()));
        };
        rows = rows.saturating_add(n);
        for chunk in group.columns() {
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or(chunk.data_page_offset());
            let len = chunk.compressed_size();
            let end = u64::try_from(start)
                .ok()
                .zip(u64::try_from(len).ok())
                .map(|(s, l)| s.saturating_add(l));
            if end.is_none_or(|end| end > file_len) {
                return Err(format!(
                    "row group {g}: column `{}` declares bytes {start}..{start}+{len}, outside the file's {file_len} bytes",
                    chunk.column_path()
                ));
            }
        }
    }
    if rows > file_len.saturating_mul(MAX_ROWS_PER_BYTE) {
        return Err(format!(
            "it declares {rows} rows in {file_len} bytes, more than {MAX_ROWS_PER_BYTE} rows a byte: \
             a damaged file, or one that would decode into far more memory than its size"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::{ParquetMetaDataReader, RowGroupMetaData};

    /// A small valid file's bytes and footer.
    fn file(rows: i64) -> (Vec<u8>, ParquetMetaData) {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows));
        let batch = RecordBatch::try_from_iter([("borrower_id", ids)]).unwrap();
        let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        let bytes = w.into_inner().unwrap();
        let n = bytes.len();
        let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
        let meta = ParquetMetaDataReader::decode_metadata(&bytes[n - 8 - len..n - 8]).unwrap();
        (bytes, meta)
    }

    fn with_group(
        meta: ParquetMetaData,
        edit: impl Fn(RowGroupMetaData) -> RowGroupMetaData,
    ) -> ParquetMetaData {
        let groups = meta.row_groups().iter().cloned().map(edit).collect();
        meta.into_builder().set_row_groups(groups).build()
    }

    fn message(r: Result<(), String>) -> String {
        r.expect_err("an unreadable file")
    }

    #[test]
    fn accepts_a_valid_footer() {
        let (bytes, meta) = file(1000);
        check(&meta, bytes.len() as u64).unwrap();
    }

    #[test]
    fn rejects_more_rows_than_the_file_could_hold() {
        let (bytes, meta) = file(10);
        let len = bytes.len() as u64;
        let at_limit = (len * MAX_ROWS_PER_BYTE) as i64;
        let edit = |rows: i64| {
            with_group(meta.clone(), move |g| {
                g.into_builder().set_num_rows(rows).build().unwrap()
            })
        };
        check(&edit(at_limit), len).unwrap();
        let m = message(check(&edit(at_limit + 1), len));
        assert!(m.contains("rows a byte"), "{m}");
        let m = message(check(&edit(-1), len));
        assert!(m.contains("declares -1 rows"), "{m}");
    }

    #[test]
    fn rejects_column_chunks_outside_the_file() {
        let (bytes, meta) = file(10);
        let len = bytes.len() as u64;
        let edit = |f: &dyn Fn(
            parquet::file::metadata::ColumnChunkMetaData,
        ) -> parquet::file::metadata::ColumnChunkMetaData| {
            with_group(meta.clone(), |g| {
                let columns = g.columns().iter().cloned().map(f).collect();
                g.into_builder()
                    .set_column_metadata(columns)
                    .build()
                    .unwrap()
            })
        };
        let negative = edit(&|c| {
            c.into_builder()
                .set_total_compressed_size(-1)
                .build()
                .unwrap()
        });
        assert!(message(check(&negative, len)).contains("outside the file"));
        let beyond = edit(&|c| {
            c.into_builder()
                .set_dictionary_page_offset(None)
                .set_data_page_offset(len as i64)
                .build()
                .unwrap()
        });
        assert!(message(check(&beyond, len)).contains("outside the file"));
    }
}
