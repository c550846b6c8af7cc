//! Backend specifics: the wgpu adapter is really Vulkan, and f64 is there.

use aumann::backend::describe;
use aumann::prelude::*;
use burn::tensor::DType;

use crate::common::*;

/// On a machine without a GPU the wgpu tests must run on lavapipe's Vulkan, not the silent
/// OpenGL fallback (which has no f64 and compiles WGSL instead of SPIR-V).
#[test]
fn wgpu_adapter_is_vulkan_with_f64() {
    let device = device(Backend::Wgpu);
    let name = describe(&device);
    assert!(
        name.contains("spirv"),
        "wgpu adapter {name} is not Vulkan (SPIR-V)"
    );
    assert!(
        device.supports_dtype(DType::F64),
        "wgpu adapter {name} lacks f64"
    );
}

#[test]
fn cpu_backends_support_f64() {
    for backend in [Backend::Flex, Backend::NdArray] {
        let device = device(backend);
        backend.check_precision(&device, Precision::F64).unwrap();
    }
}
