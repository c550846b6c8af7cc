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

/// Sums over more agents than a GPU dispatch holds (2¹⁶ workgroups a dimension on lavapipe):
/// the engine's reductions and the shipped DeepSet's value at 10⁵ agents equal the exact sum
/// and the host's value. burn's own reduce returned the sum of the first 65 535 here.
fn long_reductions_are_whole(backend: Backend) {
    use burn::tensor::{Tensor, TensorData};
    let device = device(backend);
    let long = 1_000_000;
    let values: Vec<f32> = (0..3 * long).map(|i| (i % 97) as f32 / 97.0).collect();
    let exact: f64 = values[..long].iter().map(|&v| f64::from(v)).sum();
    let t = Tensor::<3>::from_data(
        TensorData::new(values.clone(), [1, 3, long]),
        (&device, DType::F32),
    );
    let sums = aumann::array::download(aumann::ops::sum_dim(t.clone(), 2), "sums").unwrap();
    assert!(
        (sums[0] - exact).abs() <= 1e-4 * exact,
        "{backend:?}: {} vs {exact}",
        sums[0]
    );
    let means =
        aumann::array::download(aumann::ops::mean_dim(t.swap_dims(1, 2), 1), "means").unwrap();
    assert!(
        (means[0] - exact / long as f64).abs() <= 1e-4,
        "{backend:?}: mean {}",
        means[0]
    );
    let n = 100_000;
    let values = values[..3 * n].to_vec();
    // The shipped DeepSet's value on 10⁵ agents, against the same on the host.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/deepset-variance");
    let value = |device: &burn::tensor::Device| {
        let (model, _) = aumann::model::load(&dir, device, Some(3)).unwrap();
        let z = Tensor::<3>::from_data(
            TensorData::new(values.clone(), [1, 3, n]),
            (device, DType::F32),
        );
        aumann::array::download(model.forward(z).unwrap(), "V").unwrap()[0]
    };
    let (here, host) = (value(&device), value(&Backend::Flex.device().unwrap()));
    // f32 pooling on the device against f64 on the host: rounding, ~1e-5 here.
    assert!(
        (here - host).abs() <= 1e-4 * host.abs(),
        "{backend:?}: V {here} vs {host} on flex"
    );
}
backend_test!(long_reductions_are_whole);
