//go:build !linux

package site

// swapDirs puts staging at publishDir and returns where the previous build
// now is ("" when there was none).
func swapDirs(staging, publishDir string) (string, error) {
	return swapByRename(staging, publishDir)
}
