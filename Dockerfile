FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOYALTY_HOST=0.0.0.0

WORKDIR /app

COPY requirements-runtime.lock ./
RUN pip install -r requirements-runtime.lock

COPY pyproject.toml README.md* ./
COPY loyalty ./loyalty
RUN pip install --no-deps . && rm -rf build loyalty.egg-info

# Migrations and the demo data are read from the working directory at run time.
COPY db ./db

RUN useradd --system --no-create-home --shell /usr/sbin/nologin loyalty
USER loyalty

EXPOSE 8000
CMD ["python", "-m", "loyalty", "serve"]
