use aumann::indicators::analytic;
use aumann::prelude::*;
use burn::tensor::{DType, Tensor};
use std::time::Instant;
fn main() {
    let dev = Backend::Flex.device().unwrap();
    let x = aumann::synth::population(&aumann::synth::SynthConfig::default());
    let dtype = DType::F32;
    for kind in Analytic::ALL {
        let ind = analytic(kind);
        let t = Instant::now();
        let xt = x.upload(0, 1, &dev, dtype);
        let b = Tensor::<3>::zeros([1, 3, 1], (&dev, dtype));
        let b_full = b.clone().expand([1, 3, 1_000_000]);
        let up = t.elapsed();
        let t = Instant::now();
        let vx = ind.forward(xt.clone()).into_data();
        let vb = ind.forward(b_full.clone()).into_data();
        let vals = t.elapsed();
        let t = Instant::now();
        let along = ind.along_path(&xt, &b_full).unwrap();
        let prep = t.elapsed();
        let delta = xt.clone() - b.clone();
        let mut acc = delta.zeros_like();
        let (mut tz, mut tf, mut tb, mut ta) = (0.0, 0.0, 0.0, 0.0);
        for j in 0..32 {
            let a = (j as f64 + 0.5) / 32.0;
            let t = Instant::now();
            let z = (delta.clone().mul_scalar(a) + b.clone())
                .autodiff()
                .require_grad();
            tz += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let v = along(z.clone()).sum();
            tf += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let g = z.grad(&v.backward()).unwrap();
            tb += t.elapsed().as_secs_f64();
            let t = Instant::now();
            acc = acc + g.mul_scalar(1.0 / 32.0);
            ta += t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        let phi = (acc * delta)
            .sum_dim(1)
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap();
        let fin = t.elapsed();
        println!(
            "{kind:?}: upload {:.1} ms, values {:.1}, prepare {:.1}, z {:.1}, forward {:.1}, backward {:.1}, acc {:.1}, final {:.1}  ({} {:?} {:?})",
            up.as_secs_f64() * 1e3,
            vals.as_secs_f64() * 1e3,
            prep.as_secs_f64() * 1e3,
            tz * 1e3,
            tf * 1e3,
            tb * 1e3,
            ta * 1e3,
            fin.as_secs_f64() * 1e3,
            phi.len(),
            vx.iter::<f64>().next(),
            vb.iter::<f64>().next()
        );
    }
}
