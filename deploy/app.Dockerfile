# The gateway, the action server and the maintenance commands (migrate, index, purge): one image.
# Not built on our development machines (no container runs there); the same steps as scripts/setup.sh.
FROM python:3.10-slim AS app
WORKDIR /srv/xiaoshen
ENV PYTHONPATH=/srv/xiaoshen PYTHONDONTWRITEBYTECODE=1 XS_CACHE_DIR=/tmp/xiaoshen-cache
COPY requirements/app.txt requirements/app.txt
RUN pip install --no-cache-dir --no-deps -r requirements/app.txt && pip check
COPY . .
# The jieba dictionary and NLU examples generated from the guides (tools/stack.py prepare does the same).
RUN python -m tools.build_bot_data && useradd --system xiaoshen
USER xiaoshen
