//! Reading and writing `.npy` arrays (numpy's format), the project's only file format for
//! numbers. Float32 and float64 arrays in either byte order and either memory order are
//! read; arrays are written little-endian, C order.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use npyz::{DType, Order, TypeChar, WriterBuilder};

use crate::array::Values;
use crate::error::{Error, Result};

/// An array as read from a `.npy` file: its shape and its values in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The shape, slowest axis first.
    pub shape: Vec<usize>,
    /// The values, row-major (C order), in the file's precision.
    pub values: Values,
}

/// Read a float32 or float64 `.npy` file.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::NotNpy`] if it is not an `.npy` array
/// or is truncated, [`Error::UnsupportedDtype`] for any other element type.
pub fn read(path: &Path) -> Result<NpyArray> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_npy = |reason: String| Error::NotNpy {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io_err)?);
    let header = npyz::NpyHeader::from_reader(&mut reader).map_err(|e| not_npy(e.to_string()))?;
    let DType::Plain(type_str) = header.dtype() else {
        return Err(Error::UnsupportedDtype {
            path: path.to_path_buf(),
            found: format!("{:?}", header.dtype().descr()),
        });
    };
    let size = type_str.size_field() as usize;
    if type_str.type_char() != TypeChar::Float || !(size == 4 || size == 8) {
        return Err(Error::UnsupportedDtype {
            path: path.to_path_buf(),
            found: type_str.to_string(),
        });
    }
    let big_endian = type_str.to_string().starts_with('>');
    let shape: Vec<usize> = header.shape().iter().map(|&s| s as usize).collect();
    let len: usize = shape.iter().product();
    let mut bytes = Vec::with_capacity(len * size);
    reader.read_to_end(&mut bytes).map_err(io_err)?;
    if bytes.len() < len * size {
        return Err(not_npy(format!(
            "truncated: shape {shape:?} needs {} bytes of data, the file holds {}",
            len * size,
            bytes.len()
        )));
    }
    if bytes.len() > len * size {
        return Err(not_npy(format!(
            "{} bytes of trailing data after the {shape:?} array",
            bytes.len() - len * size
        )));
    }
    let mut values = if size == 4 {
        Values::F32(decode(
            &bytes,
            big_endian,
            f32::from_le_bytes,
            f32::from_be_bytes,
        ))
    } else {
        Values::F64(decode(
            &bytes,
            big_endian,
            f64::from_le_bytes,
            f64::from_be_bytes,
        ))
    };
    if header.order() == Order::Fortran && shape.len() > 1 {
        values = match values {
            Values::F32(v) => Values::F32(fortran_to_c(&v, &shape)),
            Values::F64(v) => Values::F64(fortran_to_c(&v, &shape)),
        };
    }
    Ok(NpyArray { shape, values })
}

fn decode<T, const N: usize>(
    bytes: &[u8],
    big_endian: bool,
    le: fn([u8; N]) -> T,
    be: fn([u8; N]) -> T,
) -> Vec<T> {
    let conv = if big_endian { be } else { le };
    bytes
        .chunks_exact(N)
        .map(|c| conv(c.try_into().expect("chunks_exact yields N bytes")))
        .collect()
}

/// Reorder a column-major array to row-major.
fn fortran_to_c<T: Copy + Default>(v: &[T], shape: &[usize]) -> Vec<T> {
    let mut out = vec![T::default(); v.len()];
    let rank = shape.len();
    let mut idx = vec![0usize; rank];
    for o in out.iter_mut() {
        // Column-major offset of the current row-major index.
        let mut off = 0;
        let mut stride = 1;
        for a in 0..rank {
            off += idx[a] * stride;
            stride *= shape[a];
        }
        *o = v[off];
        for a in (0..rank).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    out
}

/// Write `values` with `shape` to `path` as a little-endian, C-order `.npy` file.
///
/// The file is written in place; callers that must never leave a half-written file write to
/// a temporary name and rename it.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write(path: &Path, shape: &[usize], values: &Values) -> Result<()> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let shape: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
    let file = BufWriter::new(File::create(path).map_err(io_err)?);
    fn write_all<T: npyz::AutoSerialize + Copy, W: Write>(
        file: W,
        shape: &[u64],
        values: &[T],
    ) -> std::io::Result<()> {
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(file)
            .begin_nd()?;
        w.extend(values.iter().copied())?;
        w.finish()
    }
    match values {
        Values::F32(v) => write_all(file, &shape, v),
        Values::F64(v) => write_all(file, &shape, v),
    }
    .map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fortran_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let v: Vec<f64> = (0..24).map(f64::from).collect();
        write(&p, &[2, 3, 4], &Values::F64(v.clone())).unwrap();
        let a = read(&p).unwrap();
        assert_eq!(a.shape, vec![2, 3, 4]);
        assert_eq!(a.values, Values::F64(v));
        // Column-major [2, 3]: memory 0 1 2 3 4 5 holds a[0,0] a[1,0] a[0,1] a[1,1] ...
        let f = fortran_to_c(&[0, 1, 2, 3, 4, 5], &[2, 3]);
        assert_eq!(f, vec![0, 2, 4, 1, 3, 5]);
    }
}
