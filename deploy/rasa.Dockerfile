# Rasa with the trained model baked in: trained at build time from the data the app image generates.
FROM registry.example.gov.cn/xiaoshen/app:latest AS data

FROM python:3.10-slim
WORKDIR /srv/xiaoshen
COPY requirements/rasa.txt requirements/rasa.txt
RUN pip install --no-cache-dir --no-deps -r requirements/rasa.txt && pip check
COPY config.yml config.yml
COPY bot bot
COPY config/rasa_logging.yml config/rasa_logging.yml
COPY --from=data /srv/xiaoshen/var var
RUN rasa train --config config.yml --domain var/domain --data bot/data var/nlu --out models \
    && useradd --system xiaoshen
USER xiaoshen
