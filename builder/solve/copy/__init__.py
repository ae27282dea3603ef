"""COPY and ADD.

- `files`: COPY (`copy_into`) and the planning of local sources ADD shares;
- `add`: ADD (`add_into`): local sources as COPY, plus archives, URLs, git;
- `request`: what one COPY or ADD asks for (`CopyRequest`), shared by both;
- `kinds`: whether a source is local, a download or a git repository;
- `source`, `dest`, `rootdir`: the source and destination roots, by fd;
- `place`, `tree`: where each source lands, and copying with metadata;
- `archive`, `url`, `git`: unpacking, downloading, cloning;
- `chmod`, `chown`: the `--chmod` and `--chown` flags.
"""
