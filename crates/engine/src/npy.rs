//! Reading and writing `.npy` arrays (numpy's format), the project's only file format for
//! numbers. Float32 and float64 arrays in either byte order and either memory order are
//! read (headers parsed by `npyz`); arrays are written little-endian, C order. Data moves in
//! 1 MiB chunks, so a file is never held twice in memory.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use npyz::{DType, Order, TypeChar};

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
    read_numbers(path, false)
}

/// Read a `.npy` file of numbers: float32 and float64 as [`read`] does, and also integer
/// arrays (signed or unsigned, 1 to 8 bytes), converted to `f64` (exact below 2⁵³): counts
/// such as followers are stored as integers by most pipelines.
///
/// # Errors
/// As [`read`]; [`Error::UnsupportedDtype`] for booleans, complex numbers and the rest.
pub fn read_counts(path: &Path) -> Result<NpyArray> {
    read_numbers(path, true)
}

fn read_numbers(path: &Path, integers: bool) -> Result<NpyArray> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_npy = |reason: String| Error::NotNpy {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = BufReader::new(crate::input::open(path)?);
    let header = npyz::NpyHeader::from_reader(&mut reader).map_err(|e| not_npy(e.to_string()))?;
    let DType::Plain(type_str) = header.dtype() else {
        return Err(Error::UnsupportedDtype {
            path: path.to_path_buf(),
            found: format!("{:?}", header.dtype().descr()),
        });
    };
    let size = type_str.size_field() as usize;
    let char = type_str.type_char();
    let is_float = char == TypeChar::Float && (size == 4 || size == 8);
    let is_int = matches!(char, TypeChar::Int | TypeChar::Uint) && [1, 2, 4, 8].contains(&size);
    if !(is_float || integers && is_int) {
        return Err(Error::UnsupportedDtype {
            path: path.to_path_buf(),
            found: type_str.to_string(),
        });
    }
    let big_endian = type_str.to_string().starts_with('>');
    let shape: Vec<usize> = (header.shape().iter())
        .map(|&s| usize::try_from(s))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            not_npy(format!(
                "shape {:?} does not fit this machine",
                header.shape()
            ))
        })?;
    let what = path.display().to_string();
    let data_bytes = crate::limits::bytes(&what, &shape, size)?;
    check_data_size(&mut reader, data_bytes, &shape, not_npy)?;
    // The values read, and one working copy of them (a transposition, an upload).
    crate::limits::fits(&what, data_bytes.saturating_mul(2))?;
    let len: usize = shape.iter().product();
    let truncated = |got: usize| {
        not_npy(format!(
            "truncated: shape {shape:?} needs {data_bytes} bytes of data, the file holds {got}"
        ))
    };
    let mut values = if is_int {
        let signed = char == TypeChar::Int;
        let mut raw = read_values(&mut reader, len * size, |b: [u8; 1]| b[0])
            .map_err(io_err)?
            .map_err(truncated)?;
        if big_endian {
            raw.chunks_exact_mut(size).for_each(<[u8]>::reverse);
        }
        Values::F64(
            raw.chunks_exact(size)
                .map(|c| int_le_to_f64(c, signed))
                .collect(),
        )
    } else if size == 4 {
        let decode = if big_endian {
            f32::from_be_bytes
        } else {
            f32::from_le_bytes
        };
        Values::F32(
            read_values(&mut reader, len, decode)
                .map_err(io_err)?
                .map_err(truncated)?,
        )
    } else {
        let decode = if big_endian {
            f64::from_be_bytes
        } else {
            f64::from_le_bytes
        };
        Values::F64(
            read_values(&mut reader, len, decode)
                .map_err(io_err)?
                .map_err(truncated)?,
        )
    };
    let mut extra = [0u8; 1];
    if reader.read(&mut extra).map_err(io_err)? != 0 {
        return Err(not_npy(format!("trailing data after the {shape:?} array")));
    }
    if header.order() == Order::Fortran && shape.len() > 1 {
        values = match values {
            Values::F32(v) => Values::F32(fortran_to_c(&v, &shape)),
            Values::F64(v) => Values::F64(fortran_to_c(&v, &shape)),
        };
    }
    Ok(NpyArray { shape, values })
}

/// The data a header promises against what a regular file holds after it, before anything
/// is allocated: a header that lies about its shape is refused, not believed.
fn check_data_size(
    reader: &mut BufReader<File>,
    data_bytes: u64,
    shape: &[usize],
    not_npy: impl Fn(String) -> Error,
) -> Result<()> {
    let Ok(meta) = reader.get_ref().metadata() else {
        return Ok(());
    };
    let Ok(at) = reader.stream_position() else {
        return Ok(());
    };
    if !meta.is_file() {
        return Ok(());
    }
    let holds = meta.len().saturating_sub(at);
    if holds < data_bytes {
        return Err(not_npy(format!(
            "truncated: shape {shape:?} needs {data_bytes} bytes of data, the file holds {holds}"
        )));
    }
    if holds > data_bytes {
        return Err(not_npy(format!(
            "trailing data after the {shape:?} array ({} bytes more than it needs)",
            holds - data_bytes
        )));
    }
    Ok(())
}

/// A little-endian integer of 1 to 8 bytes, as `f64`.
fn int_le_to_f64(bytes: &[u8], signed: bool) -> f64 {
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    let negative = signed && bytes[bytes.len() - 1] & 0x80 != 0;
    if negative {
        buf[bytes.len()..].fill(0xff);
        i64::from_le_bytes(buf) as f64
    } else {
        u64::from_le_bytes(buf) as f64
    }
}

/// Bytes read and decoded at a time: the file is never held twice in memory.
const CHUNK_BYTES: usize = 1 << 20;

/// Read `len` values of `N` bytes each; `Ok(Err(bytes_found))` if the data ends early.
fn read_values<T, const N: usize>(
    reader: &mut impl Read,
    len: usize,
    decode: fn([u8; N]) -> T,
) -> std::io::Result<std::result::Result<Vec<T>, usize>> {
    let mut out = Vec::with_capacity(len);
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut remaining = len * N;
    while remaining > 0 {
        let want = remaining.min(CHUNK_BYTES);
        let mut got = 0;
        while got < want {
            match reader.read(&mut buf[got..want])? {
                0 => return Ok(Err(out.len() * N + got)),
                k => got += k,
            }
        }
        out.extend(
            buf[..want]
                .chunks_exact(N)
                .map(|c| decode(c.try_into().expect("chunks_exact yields N bytes"))),
        );
        remaining -= want;
    }
    Ok(Ok(out))
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

/// Write `values` with `shape` to `path` as a little-endian, C-order `.npy` file (format 1.0).
///
/// The file is written in place; callers that must never leave a half-written file write to
/// a temporary name and rename it ([`crate::output::Staged`]).
///
/// # Errors
/// [`Error::Output`] if a value is NaN or infinite (nothing is written: a file of results
/// never holds one); [`Error::Io`] if the file cannot be written.
pub fn write(path: &Path, shape: &[usize], values: &Values) -> Result<()> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let first_bad = match values {
        Values::F32(v) => v
            .iter()
            .position(|x| !x.is_finite())
            .map(|i| (i, v[i] as f64)),
        Values::F64(v) => crate::attribution::first_non_finite(v).map(|i| (i, v[i])),
    };
    if let Some((at, value)) = first_bad {
        return Err(Error::Output {
            path: path.to_path_buf(),
            reason: format!("value {at} of the {shape:?} array is {value}; nothing was written"),
        });
    }
    let mut file = BufWriter::with_capacity(CHUNK_BYTES, File::create(path).map_err(io_err)?);
    let descr = match values {
        Values::F32(_) => "<f4",
        Values::F64(_) => "<f8",
    };
    file.write_all(&header(descr, shape)).map_err(io_err)?;
    match values {
        Values::F32(v) => write_values(&mut file, v, |x| x.to_le_bytes()),
        Values::F64(v) => write_values(&mut file, v, |x| x.to_le_bytes()),
    }
    .and_then(|()| file.flush())
    .map_err(io_err)
}

/// Write integer counts with `shape` as a little-endian, C-order int64 `.npy` file.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written.
pub fn write_i64(path: &Path, shape: &[usize], values: &[i64]) -> Result<()> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = BufWriter::with_capacity(CHUNK_BYTES, File::create(path).map_err(io_err)?);
    file.write_all(&header("<i8", shape)).map_err(io_err)?;
    write_values(&mut file, values, |x| x.to_le_bytes())
        .and_then(|()| file.flush())
        .map_err(io_err)
}

/// The `.npy` 1.0 header: magic, version, length, and the dictionary padded with spaces so
/// that the data starts at a multiple of 64 bytes.
fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let unpadded = 6 + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out
}

fn write_values<T: Copy, const N: usize>(
    w: &mut impl Write,
    values: &[T],
    encode: fn(T) -> [u8; N],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(CHUNK_BYTES);
    for chunk in values.chunks(CHUNK_BYTES / N) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|&x| encode(x)));
        w.write_all(&buf)?;
    }
    Ok(())
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
        // npyz reads what we write, for every rank.
        for shape in [vec![5usize], vec![5, 1], vec![1, 5, 1]] {
            let v: Vec<f32> = (0..5).map(|i| i as f32 * 0.5).collect();
            write(&p, &shape, &Values::F32(v.clone())).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!((bytes.len() - 5 * 4) % 64, 0, "data is 64-byte aligned");
            let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
            assert_eq!(
                npy.shape(),
                shape.iter().map(|&s| s as u64).collect::<Vec<_>>()
            );
            assert_eq!(npy.into_vec::<f32>().unwrap(), v);
        }
        // Integer counts, either sign, through read_counts only.
        let counts = [0i64, 1, -3, 1 << 40];
        write_i64(&p, &[4], &counts).unwrap();
        assert!(matches!(read(&p), Err(Error::UnsupportedDtype { .. })));
        let c = read_counts(&p).unwrap();
        assert_eq!(
            c.values,
            Values::F64(vec![0.0, 1.0, -3.0, (1u64 << 40) as f64])
        );
        assert_eq!(int_le_to_f64(&[0xfe], true), -2.0);
        assert_eq!(int_le_to_f64(&[0xfe], false), 254.0);
        assert_eq!(int_le_to_f64(&[0x00, 0x80], true), -32768.0);
        // Column-major [2, 3]: memory 0 1 2 3 4 5 holds a[0,0] a[1,0] a[0,1] a[1,1] ...
        let f = fortran_to_c(&[0, 1, 2, 3, 4, 5], &[2, 3]);
        assert_eq!(f, vec![0, 2, 4, 1, 3, 5]);
    }
}
