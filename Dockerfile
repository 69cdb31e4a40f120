# runwarden as a container: `docker compose up` runs it beside Kafka and ClickHouse.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY consumers ./consumers
COPY detectors ./detectors
COPY sql ./sql
COPY schemas ./schemas
COPY examples ./examples
ENV NODE_ENV=production
ENTRYPOINT ["node", "bin/runwarden.js"]
CMD ["start"]
