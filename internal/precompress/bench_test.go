package precompress

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkLevels compresses the built home page (public/, else a
// synthetic page) at each level kb uses: the throughput per core says what
// precompression adds to a build that rewrote N bytes of pages.
func BenchmarkLevels(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "public", "index.html"))
	if err != nil {
		raw = page(300)
	}
	for _, lvl := range []int{4, 5, 6, 9, 11} {
		b.Run("br"+strconv.Itoa(lvl), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			var out []byte
			for b.Loop() {
				out, _ = compressBrotli(raw, lvl)
			}
			b.ReportMetric(float64(len(out))/float64(len(raw)), "ratio")
		})
	}
	for _, lvl := range []int{gzip.DefaultCompression, gzip.BestCompression} {
		b.Run("gzip"+strconv.Itoa(lvl), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			var out []byte
			for b.Loop() {
				out, _ = compressGzip(raw, lvl)
			}
			b.ReportMetric(float64(len(out))/float64(len(raw)), "ratio")
		})
	}
}
