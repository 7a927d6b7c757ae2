# The kindwatch CLI (`kindwatch operator`, `kindwatch gateway`, ...) as an image: built in one stage, run from the
# esbuild bundle (an entry point and the chunks each command loads) plus the production dependencies only (the bundle
# loads undici's internals at run time).
#   docker build -t kindwatch .
#   docker run --rm kindwatch gateway --help

FROM node:22-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:22-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src/cli/kindwatch*.js /app/dist/src/cli/
# The image's `node` user, by number, so that Kubernetes can check runAsNonRoot (the chart runs as 1000:1000).
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/src/cli/kindwatch.js"]
CMD ["--help"]
