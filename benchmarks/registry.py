"""Push and pull a ~200 MB image with pybuild and with skopeo, against a local docker-registry.

    python benchmarks/registry.py [--random-mb 190] [--text-mb 120] [--layers 5] [--repeat 3]

Builds an image of `--layers` gzip layers (random, incompressible files plus
compressible text) in a temporary store, writes it as an OCI layout for
skopeo, then times, each on a fresh registry (so no run reuses another's
blobs):

- push: pybuild `push` from its store / `skopeo copy oci:LAYOUT docker://...`;
- pull: pybuild `pull` into an empty store / `skopeo copy docker://... oci:DIR`;
- save: pybuild `save` to a docker-archive / `skopeo copy oci:LAYOUT docker-archive:FILE`.

Prints the best of `--repeat` runs per tool and the ratio pybuild/skopeo
(below 1: pybuild is faster).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.export.docker_archive import save_docker_archive
from builder.export.selection import select_images
from builder.registry.client import RegistryClient
from builder.registry.pull import pull
from builder.registry.push import push
from builder.store import Store
from tests.registry.images import add_image, write_oci_layout
from tests.registry_server import RegistryServer, start_registry

REPO = "bench/image"
TAG = "v1"


def make_layers(random_mb: int, text_mb: int, layers: int) -> list[dict[str, bytes]]:
    """`layers` layers sharing out the random and the text bytes, a few files each."""
    result: list[dict[str, bytes]] = []
    words = b"the quick brown fox jumps over the lazy dog 0123456789\n"
    for i in range(layers):
        files: dict[str, bytes] = {}
        random_bytes = random_mb * (1 << 20) // layers
        text_bytes = text_mb * (1 << 20) // layers
        for j in range(4):
            files[f"layer{i}/bin/random{j}.bin"] = os.urandom(random_bytes // 4)
            lines = (words * (text_bytes // 4 // len(words) + 1))[: text_bytes // 4]
            files[f"layer{i}/share/text{j}.txt"] = bytes(lines)
        result.append(files)
    return result


def best_of(repeat: int, run: Callable[[int], None]) -> float:
    times = []
    for n in range(repeat):
        start = time.perf_counter()
        run(n)
        times.append(time.perf_counter() - start)
    return min(times)


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", *args], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random-mb", type=int, default=190)
    parser.add_argument("--text-mb", type=int, default=120)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pybuild-bench-") as tmp_text:
        tmp = Path(tmp_text)
        store = Store.open(tmp / "store")
        start = time.perf_counter()
        record = add_image(store, make_layers(args.random_mb, args.text_mb, args.layers))
        layout = tmp / "layout"
        write_oci_layout(store, record, layout, TAG)
        print(
            f"image: {args.layers} layers, {record.size / 1e6:.0f} MB compressed "
            f"(made in {time.perf_counter() - start:.1f}s)"
        )

        def fresh_registry(name: str) -> RegistryServer:
            return start_registry(tmp / f"registry-{name}-{time.monotonic_ns()}")

        def pybuild_push(n: int) -> None:
            with fresh_registry("pp") as server:
                client = RegistryClient(server.host, credentials=None)
                push(store, record.id, f"{server.host}/{REPO}-{n}:{TAG}", client=client)
                client.close()

        def skopeo_push(n: int) -> None:
            with fresh_registry("sp") as server:
                skopeo(
                    "copy", "--dest-tls-verify=false",
                    f"oci:{layout}:{TAG}", f"docker://{server.host}/{REPO}-{n}:{TAG}",
                )  # fmt: skip

        push_pybuild = best_of(args.repeat, pybuild_push)
        push_skopeo = best_of(args.repeat, skopeo_push)

        with fresh_registry("pull") as server:
            skopeo(
                "copy",
                "--dest-tls-verify=false",
                f"oci:{layout}:{TAG}",
                f"docker://{server.host}/{REPO}:{TAG}",
            )

            def pybuild_pull(n: int) -> None:
                target = tmp / f"pull-store-{n}"
                client = RegistryClient(server.host, credentials=None)
                pull(Store.open(target), f"{server.host}/{REPO}:{TAG}", client=client)
                client.close()
                shutil.rmtree(target)

            def skopeo_pull(n: int) -> None:
                target = tmp / f"pull-layout-{n}"
                skopeo(
                    "copy",
                    "--src-tls-verify=false",
                    f"docker://{server.host}/{REPO}:{TAG}",
                    f"oci:{target}:{TAG}",
                )
                shutil.rmtree(target)

            pull_pybuild = best_of(args.repeat, pybuild_pull)
            pull_skopeo = best_of(args.repeat, skopeo_pull)

        selections = select_images(store, [record.id])

        def pybuild_save(n: int) -> None:
            target = tmp / f"save-{n}.tar"
            with target.open("wb") as out:
                save_docker_archive(store, selections, out)
            target.unlink()

        def skopeo_save(n: int) -> None:
            target = tmp / f"skopeo-save-{n}.tar"
            skopeo("copy", f"oci:{layout}:{TAG}", f"docker-archive:{target}:{REPO}:{TAG}")
            target.unlink()

        save_pybuild = best_of(args.repeat, pybuild_save)
        save_skopeo = best_of(args.repeat, skopeo_save)

    mb = record.size / 1e6
    print(f"{'':6} {'pybuild':>10} {'skopeo':>10} {'ratio':>7}   (best of {args.repeat})")
    for name, ours, theirs in (
        ("push", push_pybuild, push_skopeo),
        ("pull", pull_pybuild, pull_skopeo),
        ("save", save_pybuild, save_skopeo),
    ):
        print(
            f"{name:6} {ours:9.2f}s {theirs:9.2f}s {ours / theirs:7.2f}   "
            f"pybuild {mb / ours:.0f} MB/s, skopeo {mb / theirs:.0f} MB/s"
        )


if __name__ == "__main__":
    main()
