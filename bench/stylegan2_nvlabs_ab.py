"""Issue 24's A/B: NVlabs' own StyleGAN2 networks against ganforge's, same widths, same loop, same judge.

Needs a checkout of NVlabs/stylegan2-ada-pytorch (``--nvlabs DIR``); its ``training/networks.py`` is imported from
there, never copied. On a CPU its custom ops fall back to their reference PyTorch code. Its ``dnnlib`` imports
``requests`` at module level (for downloads this script never makes): when the package is missing, an empty stub
module is put on ``sys.path`` from a temporary folder.

The loop mirrors NVlabs' ``training/training_loop.py`` + ``training/loss.py`` (``StyleGAN2Loss``), one process:
    per step, phases in NVlabs' order, each with its own fresh z and the step's shared real batch:
    Gmain  L_G = softplus(−D(G(z)))                                    (Greg is a no-op: path length off, cifar)
    Dmain  L_D = softplus(D(G(z))) + softplus(−D(x))
    Dreg   every 16 steps: (γ/2)·‖∇ₓD(x)‖² · 16                         lazy R1 (App. B)
    Adam(lr·c, β = (0, 0.99^c), ε 1e-8), c = k/(k+1), k = 4 for G (applied with pl off, as NVlabs), 16 for D
    G EMA after every step: β = 0.5^(B / min(ema_kimg·1000, 0.05·images seen)), buffers copied (w̄)
Widths and settings default to the ``stylegan2-mnist`` preset (cifar config shrunk: z = w = 128, 2 mapping layers,
feature maps min(1024 / r, 64), plain D, mbstd group 32, no noise inputs, γ 1, batch 32). ``--G`` / ``--D`` pick
each network's implementation, so the bisection swaps one at a time. Real digits are drawn with replacement.

At each CPU mark (process time of the training loop; evaluation excluded) the EMA and raw G are judged exactly as
``bench/image_quality.py`` does (classifier FID vs the first ``--n-eval`` train digits, confident %, class entropy,
pixel std over z; 32² samples cropped to the 28² digit) and an 8×8 grid of the first 64 samples is written.

    OMP_NUM_THREADS=1 python bench/stylegan2_nvlabs_ab.py --nvlabs ~/stylegan2-ada-pytorch --G nv --D nv \
        --marks 60 120 180 --out runs/sg2-ab
    python bench/stylegan2_nvlabs_ab.py --nvlabs ~/stylegan2-ada-pytorch --check-g    # copied-weight check of G
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.base import DataSpec, to_uint8
from ganforge.data.mnist32 import MNIST32
from ganforge.models.stylegan2 import StyleGAN2Config
from ganforge.viz.images import save_grid

sys.path.insert(0, str(Path(__file__).resolve().parent))
from image_quality import Judge, digits


def import_nvlabs(root: Path) -> Any:
    """NVlabs' ``training.networks`` module from the checkout ``root``."""
    if not (root / "training" / "networks.py").is_file():
        raise SystemExit(f"ganforge: error: {root} is not a stylegan2-ada-pytorch checkout (no training/networks.py);"
                         " pass --nvlabs DIR of a clone of NVlabs/stylegan2-ada-pytorch")
    if importlib.util.find_spec("requests") is None:  # dnnlib/util.py imports it at module level
        stub = Path(tempfile.mkdtemp(prefix="sg2-ab-stub-")) / "requests"
        stub.mkdir()
        (stub / "__init__.py").write_text("")
        sys.path.insert(0, str(stub.parent))
    sys.path.insert(0, str(root))
    from training import networks
    return networks


class GWrap(nn.Module):
    """One call for either generator: z ``[N, Z]`` → images ``[N, 1, 32, 32]``; ``train`` updates w̄ and draws
    random noise (no-op without noise inputs), else const noise and no w̄ update."""

    def __init__(self, g: nn.Module, kind: str) -> None:
        super().__init__()
        self.g, self.kind = g, kind

    def forward(self, z: Tensor, train: bool = True) -> Tensor:
        if self.kind == "nv":
            return self.g(z, None, noise_mode="random" if train else "const")
        return self.g.synthesis(self.g.styles(z, update_w_avg=train), "random" if train else "const")


class DWrap(nn.Module):
    def __init__(self, d: nn.Module, kind: str) -> None:
        super().__init__()
        self.d, self.kind = d, kind

    def forward(self, x: Tensor) -> Tensor:
        return self.d(x, None) if self.kind == "nv" else self.d(x)


def build(a: argparse.Namespace) -> tuple[GWrap, DWrap]:
    ours = StyleGAN2Config(z_dim=a.z_dim, w_dim=a.z_dim, mapping_layers=2, mapping_lr=0.01, channel_base=a.channel_base,
                           channel_max=a.channel_max, d_channel_max=a.d_channel_max, mbstd_group=a.mbstd_group,
                           d_architecture="orig", use_noise=False).build(DataSpec(shape=(1, 32, 32)))
    G: nn.Module = ours["G"]
    D: nn.Module = ours["D"]
    if "nv" in (a.G, a.D):
        networks = import_nvlabs(a.nvlabs)
        if a.G == "nv":
            G = networks.Generator(z_dim=a.z_dim, c_dim=0, w_dim=a.z_dim, img_resolution=32, img_channels=1,
                                   mapping_kwargs={"num_layers": 2},
                                   synthesis_kwargs={"channel_base": a.channel_base, "channel_max": a.channel_max,
                                                     "num_fp16_res": 0, "conv_clamp": None, "use_noise": False})
        if a.D == "nv":
            D = networks.Discriminator(c_dim=0, img_resolution=32, img_channels=1, architecture="orig",
                                       channel_base=a.channel_base, channel_max=a.d_channel_max or a.channel_max,
                                       num_fp16_res=0, conv_clamp=None,
                                       epilogue_kwargs={"mbstd_group_size": a.mbstd_group})
    return GWrap(G, a.G), DWrap(D, a.D)


def check_g(a: argparse.Namespace) -> None:
    """Copied-weight check of the generators (float32, no noise): every NVlabs parameter set to N(0, 1) (the
    mapping's weights N(0, 1)/0.01 as initialised; biases and the affine's too, so every gain and lr multiplier is
    exercised), copied into ours (the up-convs' kernels flipped: NVlabs runs them as a transposed conv with
    ``flip_weight=False``), then max |Δ| of w, of the 4² layer and tRGB, of the first up-conv (all pixels, and inside
    its outer 1-px ring) and of the image."""
    networks = import_nvlabs(a.nvlabs)
    torch.manual_seed(a.seed)
    a.G, a.D = "nv", "ours"
    nv = build(a)[0].g.eval()
    us = StyleGAN2Config(z_dim=a.z_dim, w_dim=a.z_dim, mapping_layers=2, channel_base=a.channel_base,
                         channel_max=a.channel_max, use_noise=False).build(DataSpec(shape=(1, 32, 32)))["G"].eval()
    assert isinstance(nv, networks.Generator)
    syn = nv.synthesis
    with torch.no_grad():
        for prm in nv.parameters():
            prm.copy_(torch.randn_like(prm))
        for i in range(2):  # the mapping's stored weights are N(0, 1) / lr_multiplier: w keeps rms ≈ 1
            getattr(nv.mapping, f"fc{i}").weight.div_(0.01)
        sd = {f"mapping.fcs.{i}.{n}": getattr(nv.mapping, f"fc{i}").get_parameter(n) for i in range(2)
              for n in ("weight", "bias")}  # both store b and multiply by the lr multiplier at run time
        sd["const"] = syn.b4.const
        layers = [syn.b4.conv1] + [c for r in (8, 16, 32) for c in (getattr(syn, f"b{r}").conv0,
                                                                     getattr(syn, f"b{r}").conv1)]
        for k, layer in enumerate(layers):
            for n in ("bias", "affine.weight", "affine.bias"):
                sd[f"convs.{k}.{n}"] = layer.get_parameter(n)
            sd[f"convs.{k}.weight"] = layer.weight.flip([2, 3]) if layer.up == 2 else layer.weight
        for k, r in enumerate((4, 8, 16, 32)):
            for n in ("weight", "bias", "affine.weight", "affine.bias"):
                sd[f"torgbs.{k}.{n}"] = getattr(syn, f"b{r}").torgb.get_parameter(n)
        us.load_state_dict({k: v.clone() for k, v in sd.items()}, strict=False)
        z = torch.randn(16, a.z_dim)
        w_nv, w_us = nv.mapping(z, None), us.styles(z)
        x_nv = syn.b4.conv1(syn.b4.const[None].repeat(16, 1, 1, 1), w_nv[:, 0], fused_modconv=False)
        x_us = us.convs[0](us.const[None].expand(16, -1, -1, -1), w_us[:, 0], "none")
        t_nv, t_us = syn.b4.torgb(x_nv, w_nv[:, 1], fused_modconv=False), us.torgbs[0](x_us, w_us[:, 1])
        u_nv = syn.b8.conv0(x_nv, w_nv[:, 1], fused_modconv=False)
        u_us = us.convs[1](x_us, w_us[:, 1], "none")
        i_nv, i_us = syn(w_nv, noise_mode="none", fused_modconv=False), us.synthesis(w_us, "none")
    rms = lambda t: float(t.square().mean().sqrt())  # noqa: E731
    dmax = lambda s, t: float((s - t).abs().max())  # noqa: E731
    print(json.dumps({"w": [dmax(w_nv, w_us), rms(w_nv)], "conv_4x4": [dmax(x_nv, x_us), rms(x_nv)],
                      "torgb_4x4": [dmax(t_nv, t_us), rms(t_nv)], "upconv_8x8": [dmax(u_nv, u_us), rms(u_nv)],
                      "upconv_8x8_inside_ring": [dmax(u_nv[..., 1:-1, 1:-1], u_us[..., 1:-1, 1:-1]), rms(u_nv)],
                      "image": [dmax(i_nv, i_us), rms(i_nv)], "note": "[max |delta|, rms of NVlabs' tensor]"}))


def adam(module: nn.Module, lr: float, interval: int) -> torch.optim.Adam:
    """NVlabs' lazy-regularisation correction: lr·c, β^c with c = k/(k+1) (StyleGAN2 App. B)."""
    c = interval / (interval + 1)
    return torch.optim.Adam(module.parameters(), lr=lr * c, betas=(0.0, 0.99**c), eps=1e-8)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nvlabs", type=Path, default=Path("stylegan2-ada-pytorch"),
                   help="a checkout of NVlabs/stylegan2-ada-pytorch (needed when --G or --D is nv)")
    p.add_argument("--G", choices=["nv", "ours"], default="nv")
    p.add_argument("--D", choices=["nv", "ours"], default="nv")
    p.add_argument("--marks", type=float, nargs="+", default=[60, 120, 180], help="CPU seconds of training")
    p.add_argument("--n-eval", type=int, default=1000)
    p.add_argument("--gamma", type=float, default=1.0, help="R1 γ")
    p.add_argument("--lr", type=float, default=0.0025, help="D lr before the lazy correction (NVlabs' lrate)")
    p.add_argument("--g-lr", type=float, default=None, help="G lr before the lazy correction (default: --lr)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--z-dim", type=int, default=128, help="z and w dimension")
    p.add_argument("--channel-base", type=int, default=1024)
    p.add_argument("--channel-max", type=int, default=64)
    p.add_argument("--d-channel-max", type=int, default=0, help="D's own channel_max (0 = --channel-max)")
    p.add_argument("--mbstd-group", type=int, default=32)
    p.add_argument("--ema-kimg", type=float, default=500.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/sg2-ab"))
    p.add_argument("--check-g", action="store_true", help="only the copied-weight check of the two generators")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    if a.check_g:
        check_g(a)
        return
    torch.manual_seed(a.seed)
    tag = f"G-{a.G}_D-{a.D}"
    G, D = build(a)
    G_ema = copy.deepcopy(G).eval()
    for m in (G, D, G_ema):
        m.requires_grad_(False)
    opt_G, opt_D = adam(G, a.g_lr or a.lr, 4), adam(D, a.lr, 16)
    x_all = MNIST32().load("train").x  # uint8 [60000, 1, 32, 32]
    judge = Judge(x_all, a.n_eval)
    gen = torch.Generator().manual_seed(a.seed)
    B, Z = a.batch, a.z_dim
    a.out.mkdir(parents=True, exist_ok=True)

    def judged(Gm: GWrap) -> tuple[dict[str, float], Tensor]:
        g = torch.Generator().manual_seed(12345)
        with torch.no_grad():
            imgs = torch.cat([to_uint8(Gm(torch.randn(min(250, a.n_eval - i), Z, generator=g), train=False), (-1, 1))
                              for i in range(0, a.n_eval, 250)])
        return judge.images(digits(imgs)), imgs

    step, cpu = 0, 0.0
    for mark in sorted(a.marks):
        c0 = time.process_time()
        while cpu + time.process_time() - c0 < mark:
            real = x_all[torch.randint(0, x_all.shape[0], (B,), generator=gen)].float() / 127.5 - 1
            G.requires_grad_(True)  # Gmain
            loss_G = F.softplus(-D(G(torch.randn(B, Z, generator=gen)))).mean()
            opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            opt_G.step()
            G.requires_grad_(False)
            D.requires_grad_(True)  # Dmain
            with torch.no_grad():
                fake = G(torch.randn(B, Z, generator=gen))
            loss_D = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
            opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            opt_D.step()
            if a.gamma > 0 and step % 16 == 0:  # Dreg
                r = real.detach().requires_grad_(True)
                logits = D(r)
                (grad,) = torch.autograd.grad(logits.sum(), r, create_graph=True)
                r1 = grad.square().sum(dim=(1, 2, 3)) * (a.gamma / 2)  # [B]
                opt_D.zero_grad(set_to_none=True)
                (logits * 0 + r1[:, None]).mean().mul(16).backward()
                opt_D.step()
            D.requires_grad_(False)
            beta = 0.5 ** (B / max(min(a.ema_kimg * 1000, step * B * 0.05), 1e-8))  # images seen before this step
            with torch.no_grad():
                for pe, pg in zip(G_ema.parameters(), G.parameters(), strict=True):
                    pe.copy_(pg.lerp(pe, beta))
                for be, bg in zip(G_ema.buffers(), G.buffers(), strict=True):
                    be.copy_(bg)
            step += 1
        cpu += time.process_time() - c0
        for name, Gm in (("ema", G_ema), ("raw", G)):
            res, imgs = judged(Gm)
            row = {"G": a.G, "D": a.D, "cpu_s": round(cpu, 1), "steps": step, "generator": name, **res}
            print(json.dumps(row), flush=True)
            with (a.out / f"{tag}.jsonl").open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            save_grid(imgs[:64], a.out / f"{tag}-{name}-{round(mark)}s.png", nrow=8, scale=2)


if __name__ == "__main__":
    main()
