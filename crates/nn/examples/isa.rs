//! Which instruction sets this CPU runs the kernels on, and which it cannot (what the kernel
//! tests report as NOT RUN): `cargo run -p nn --example isa`.
use nn::Isa;

fn main() {
    println!("CPU: {}", nn::cpu_model());
    for isa in Isa::ALL {
        if isa.available() {
            println!("  {isa:<8} runs here");
        } else if isa.hidden() && isa.detected() {
            println!(
                "  {isa:<8} NOT RUN here (hidden by {}={})",
                nn::kernels::isa::MAX_ENV,
                Isa::cap().map_or("?", Isa::name)
            );
        } else {
            println!("  {isa:<8} NOT RUN here (needs {})", isa.needs());
        }
    }
    match Isa::preferred() {
        Ok(i) => println!(
            "networks use: {i}, their convolutions and pools {} (512-bit instructions split into halves here: {})",
            i.for_convolution(),
            nn::splits_512()
        ),
        Err(e) => println!("networks cannot be built: {e}"),
    }
}
