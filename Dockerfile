# Quarry for a team: one container, the store in MariaDB/MySQL or PostgreSQL
# (QUARRY_STORE_URL), targets and secrets from the environment or a mounted
# .streamlit/secrets.toml. See the README's "Deploying for a team".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    QUARRY_DATA_DIR=/data \
    QUARRY_TEAM_MODE=1 \
    YDATA_PROFILING_NO_ANALYTICS=True

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --create-home --uid 10001 quarry && mkdir -p /data && chown quarry /data
USER quarry

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s \
  CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
