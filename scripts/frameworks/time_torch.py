"""Time PyTorch training steps (forward, loss, backward, optimizer step) of one network, on the CPU or
on a CUDA device, in fp32 or with automatic mixed precision; prints JSON."""
import torch
import torch.nn.functional as F

import timing
import torch_models
from precision import PRECISIONS


def tf32_allowed():
    """Whether PyTorch lets fp32 matmuls (cuBLAS) and convolutions (cuDNN) run as TF32. The legacy flags,
    read and written alone: PyTorch refuses a mix of them with the newer fp32_precision settings."""
    return {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}


def configure_cuda():
    """As a training script with fixed shapes would: cuDNN autotuning on (the warm-up steps pay for it);
    TF32 off, so that fp32 is fp32 as in trainrate's fp32 cuBLAS/cuDNN rows (docs/gpu.md). Returns the
    settings found and set, for the record."""
    found = tf32_allowed()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    return {"tf32_allowed_by_default": found, "tf32_allowed": tf32_allowed(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark, "cudnn": torch.backends.cudnn.version(),
            "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name()}


def make_step(model, optimizer, inputs, labels, precision, device):
    autocast_dtype = getattr(torch, precision.autocast_dtype) if precision.autocast_dtype else None
    scaler = torch.amp.GradScaler(device) if precision.grad_scaler else None

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            loss = F.cross_entropy(model(*inputs), labels)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
    return step


def main():
    args = timing.parse_args(__doc__, cuda=True)
    if args.threads:  # both pools: intra-op for the kernels, inter-op beside them (must precede any work)
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(args.threads)
    # Debian's PyTorch runs matmuls on OpenBLAS, whose pool ignores set_num_threads.
    settings = {"mkldnn": torch.backends.mkldnn.is_available(), **timing.cap_blas_threads(args.threads)}
    if args.device == "cuda":
        settings = configure_cuda()
    torch.manual_seed(0)
    model = torch_models.build(args.network, args.seq_len).train().to(args.device)
    # The optimizer after the move: PyTorch's default on CUDA is its multi-tensor (foreach) implementation.
    optimizer = torch_models.make_optimizer(args.network, model.parameters())
    inputs, labels = torch_models.sample_inputs(args.network, args.batch, args.seq_len)
    inputs, labels = tuple(x.to(args.device) for x in inputs), labels.to(args.device)
    step = make_step(model, optimizer, inputs, labels, PRECISIONS[args.precision], args.device)
    # Eager CPU work is done when step() returns; CUDA kernels are only queued by then.
    wait = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    times = timing.time_steps(step, args.warmup, args.steps, wait)
    timing.emit(args, "pytorch", torch.__version__, times,
                {"optimizer": torch_models.optimizer_name(args.network),
                 "optimizer_form": torch_models.OPTIMIZER_FORM, **settings})


if __name__ == "__main__":
    main()
