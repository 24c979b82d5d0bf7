# One image for all three Dagster roles; docker compose / Helm pick the role with the command:
#   user code (default): dagster api grpc -h 0.0.0.0 -p 4000 -m adelie_assets.definitions
#   webserver:           dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/app/deploy/workspace.yaml
#   daemon:              dagster-daemon run -w /opt/dagster/app/deploy/workspace.yaml
# No secret is baked in: KRX/OpenAI/Postgres credentials arrive as environment variables at run time.

# Exact patch tag (not 3.11-slim) so rebuilding the same commit gives the same interpreter.
FROM python:3.11.14-slim-bookworm

# DAGSTER_EVENT_BATCH_SIZE: a range run's materializations are stored in one write at the step's
# end, so the backfill daemon sees a chunk's days at once and requests every downstream asset of
# the chunk in one run (unset: one run per asset per chunk; docs/dagster-notes.md, "Event batching").
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    ADELIE_STATE_DIR=/opt/dagster/state \
    MPLCONFIGDIR=/opt/dagster/matplotlib \
    DAGSTER_EVENT_BATCH_SIZE=1000

# A fixed, unprivileged uid/gid so volume ownership stays the same across rebuilds.
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster \
       --no-create-home --shell /usr/sbin/nologin dagster

WORKDIR /opt/dagster/app

# Dependency layer. It is rebuilt only when pyproject.toml changes, not on every source edit. The
# requirement list is read from [project].dependencies, so the image installs exactly what
# `pip install .` would, without copying the source yet. All dependencies ship manylinux wheels
# (psycopg2-binary bundles libpq), so no compiler or apt packages are needed.
# The third-party packages' own test suites (pandas, numpy, matplotlib: ~58 MB) are deleted in the
# same layer: nothing imports them at run time.
# pykrx imports matplotlib, which keeps its font cache in $MPLCONFIGDIR (default
# ~/.config/matplotlib). The runtime user has no writable home, so without this every run worker
# logged "Permission denied" and rebuilt the cache in a new /tmp directory. The cache is built
# here once, in a directory the runtime user owns (matplotlib only uses a writable one).
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
    && pip install --no-cache-dir --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && find "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
       -type d -name tests -prune -exec rm -rf {} + \
    && python -c "import matplotlib.font_manager" \
    && chown -R dagster:dagster "${MPLCONFIGDIR}"

# Source layer: the package itself, installed without touching the dependencies resolved above. Only
# adelie_assets/: the fakes and the demo (adelie_fakes/) are test machinery and stay out of the image.
# The copied source is deleted after the install: otherwise a process started in this WORKDIR
# (python -c, the code server) imported ./adelie_assets and the run workers the installed copy.
COPY adelie_assets ./adelie_assets
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info ./adelie_assets

# Instance config and the deployed workspace. They are root-owned, so the runtime user cannot
# change them. DAGSTER_HOME/storage (compute logs) and ADELIE_STATE_DIR belong to the runtime
# user. Compose mounts named volumes there, and a new volume copies this ownership.
COPY deploy/dagster.yaml ${DAGSTER_HOME}/dagster.yaml
COPY deploy/workspace.yaml ./deploy/workspace.yaml
RUN mkdir -p ${DAGSTER_HOME}/storage ${ADELIE_STATE_DIR} \
    && chown dagster:dagster ${DAGSTER_HOME} ${DAGSTER_HOME}/storage ${ADELIE_STATE_DIR}

# Numeric uid:gid, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001

# 4000: gRPC code server, 3000: webserver. Compose publishes only 3000, and only on 127.0.0.1.
EXPOSE 4000 3000

# No HEALTHCHECK here: the right probe depends on the role, so each compose service sets its own
# (gRPC health check, HTTP /server_info, daemon liveness-check).
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "adelie_assets.definitions"]
