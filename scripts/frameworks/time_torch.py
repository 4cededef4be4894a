"""Time PyTorch training steps (forward, loss, backward, optimizer step) of one network; prints JSON."""
import torch
import torch.nn.functional as F

import timing
import torch_models


def main():
    args = timing.parse_args(__doc__)
    # Both pools: intra-op for the kernels, inter-op for what runs beside them (must precede any work).
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(0)
    model = torch_models.build(args.network, args.seq_len).train()
    optimizer = torch_models.make_optimizer(args.network, model.parameters())
    inputs, labels = torch_models.sample_inputs(args.network, args.batch, args.seq_len)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(*inputs), labels)
        loss.backward()
        optimizer.step()  # eager CPU: every kernel has finished when this returns

    times = timing.time_steps(step, args.warmup, args.steps)
    timing.emit(args, "pytorch", torch.__version__, times,
                {"optimizer": torch_models.optimizer_name(args.network), "mkldnn": torch.backends.mkldnn.is_available()})


if __name__ == "__main__":
    main()
