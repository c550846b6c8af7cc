//! Compute backends and precisions: which burn device runs the path integral.
//!
//! | backend | device | notes |
//! |---|---|---|
//! | `flex` | CPU (default) | burn 0.22's recommended CPU backend; native sort |
//! | `ndarray` | CPU | the classic CPU backend (deprecated upstream) |
//! | `wgpu` | GPU via Vulkan, Metal or DX12 | `f64` only where the adapter has `SHADER_F64` (Vulkan) |

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use burn::tensor::{DType, Device, DeviceKind, Tensor};

use crate::error::{Error, Result};

/// A burn backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// burn-flex on the CPU.
    Flex,
    /// burn-ndarray on the CPU.
    NdArray,
    /// burn-wgpu on the best GPU adapter (Vulkan first).
    Wgpu,
}

impl Backend {
    /// All backends, CPU first.
    pub const ALL: [Backend; 3] = [Backend::Flex, Backend::NdArray, Backend::Wgpu];

    /// Stable lowercase name, as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::NdArray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The backend's default device, initialised and checked.
    ///
    /// # Errors
    /// [`Error::Backend`] when `wgpu` finds no adapter, saying how to install one.
    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            #[allow(deprecated)]
            Backend::NdArray => Ok(Device::ndarray()),
            Backend::Wgpu => {
                let device = Device::wgpu(DeviceKind::DefaultDevice);
                probe(&device).map_err(|reason| Error::Backend {
                    backend: "wgpu".into(),
                    reason: format!(
                        "no usable GPU adapter ({reason}); install a Vulkan driver (Debian/Ubuntu: \
                         apt-get install mesa-vulkan-drivers libvulkan1, which also gives a \
                         software adapter) or use the flex backend"
                    ),
                })?;
                Ok(device)
            }
        }
    }

    /// The backend's default device, checked to compute in `precision`: [`Backend::device`]
    /// and [`Backend::check_precision`] in one.
    ///
    /// # Errors
    /// As those two.
    pub fn device_for(self, precision: Precision) -> Result<Device> {
        let device = self.device()?;
        self.check_precision(&device, precision)?;
        Ok(device)
    }

    /// Check that `device` computes in `precision`.
    ///
    /// # Errors
    /// [`Error::UnsupportedPrecision`] for `f64` on a device without it (wgpu on Metal, on
    /// OpenGL, in browsers).
    pub fn check_precision(self, device: &Device, precision: Precision) -> Result<()> {
        if device.supports_dtype(precision.dtype()) {
            Ok(())
        } else {
            Err(Error::UnsupportedPrecision {
                backend: self.name().into(),
                device: describe(device),
            })
        }
    }
}

crate::named_choice!(Backend, "backend");

/// The adapter behind a device, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) [spirv_…]`.
pub fn describe(device: &Device) -> String {
    match device.identity() {
        Some(id) => format!("{} [{}]", id.name, id.fingerprint),
        None => format!("{device:?}"),
    }
}

/// Whether `device` (plain or autodiff) computes on the host CPU: flex or ndarray.
pub fn on_host(device: &Device) -> bool {
    // Equality ignores autodiff: it compares the compute resource.
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    *device == Device::flex() || *device == ndarray
}

/// Run one tiny operation on `device`, turning an initialisation panic into an error.
///
/// wgpu initialises on a thread of its own, so the panic that says what went wrong may not be
/// the one that reaches this thread: every panic message during the probe is recorded, and the
/// first one is reported.
fn probe(device: &Device) -> std::result::Result<(), String> {
    static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());
    MESSAGES.lock().map(|mut m| m.clear()).ok();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "device initialisation failed".into());
        if let Ok(mut m) = MESSAGES.lock() {
            m.push(text);
        }
    }));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        Tensor::<1>::zeros([1], device).into_data();
    }));
    std::panic::set_hook(hook);
    outcome.map_err(|_| {
        let first = MESSAGES
            .lock()
            .ok()
            .and_then(|m| m.first().cloned())
            .unwrap_or_else(|| "device initialisation failed".into());
        let line = first.lines().next().unwrap_or_default();
        let mut short: String = line.chars().take(300).collect();
        if short.len() < line.len() {
            short.push('…');
        }
        short
    })
}

/// Floating-point precision of the computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// Single precision (the default).
    #[default]
    F32,
    /// Double precision.
    F64,
}

impl Precision {
    /// Both precisions.
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::F64];

    /// `"f32"` or `"f64"`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    /// burn's dtype.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }

    /// The precision of tensors of `dtype` (f64 for f64, f32 for every narrower float).
    pub fn of(dtype: DType) -> Self {
        if dtype == DType::F64 {
            Precision::F64
        } else {
            Precision::F32
        }
    }

    /// Machine epsilon.
    pub fn epsilon(self) -> f64 {
        match self {
            Precision::F32 => f32::EPSILON as f64,
            Precision::F64 => f64::EPSILON,
        }
    }
}

crate::named_choice!(Precision, "precision");
