# Liaison: one static binary (the embedded store is pure-Go SQLite), run as
# a non-root user in a distroless image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/liaison-ent/liaison/api.Version=${VERSION}" \
    -o /out/liaison . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/liaison /liaison
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV LIAISON_ADDR=0.0.0.0:8080 \
    LIAISON_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/liaison"]
CMD ["serve"]
