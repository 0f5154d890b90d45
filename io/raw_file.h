// Raw HLS4ML jet files (data-format.md 1.2-1.4, 1.7): the reader that checks the layout of real
// files, and the writer the toy generator uses to produce files in exactly that layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/h5.h"
#include "io/jet_layout.h"

namespace ucluster::jets {

class RawFile {
 public:
  // Opens `path` and checks: the four datasets exist; jetConstituentList is floating point
  // [N, P, 16] and jets floating point [N, 59]; their filters are available; particleFeatureNames
  // lists the 16 column names in order (a 17th, j1_pdgid, is allowed) and jetFeatureNames has 59
  // names with the expected ones at the columns read here. Each failure names the file and what is
  // wrong (e.g. the column whose name differs). The image datasets are never touched.
  explicit RawFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  std::int64_t n_jets() const { return n_jets_; }
  int n_particles() const { return n_particles_; }

  // Jets [first, first + count): constituents [count, P, 16] and jet rows [count, 59], as double.
  void read_constituents(std::int64_t first, std::int64_t count, std::vector<double>& out) const;
  void read_jet_rows(std::int64_t first, std::int64_t count, std::vector<double>& out) const;

  // check_raw_jet() for each jet; throws "file 'x': jet i: <problem>" for the first bad one.
  void check_jets(std::int64_t first, std::int64_t count, const double* constituents, const double* jet_rows) const;
  // The jet-row part only (finite values, one-hot labels).
  void check_jet_rows(std::int64_t first, std::int64_t count, const double* jet_rows) const;

 private:
  h5::File file_;
  h5::Dataset constituents_, jets_;
  std::int64_t n_jets_ = 0;
  int n_particles_ = 0;
};

struct RawWriterOptions {
  int gzip_level = 4;            // data-format.md 3.5: deflate level 4
  std::int64_t chunk_jets = 100;  // chunks of (100, P, 16) constituents
  bool images = false;           // also write jetImage, jetImageECAL, jetImageHCAL [N, 100, 100]
};

// Image geometry (data-format.md 1.2): 100 x 100 cells of 0.016 in (etarel, phirel), +-0.8.
inline constexpr int kImageSize = 100;
inline constexpr double kImageCell = 0.016;

class RawFileWriter {
 public:
  RawFileWriter(const std::string& path, std::int64_t n_jets, int n_particles, const RawWriterOptions& options = {});
  void write(std::int64_t first, std::int64_t count, const double* constituents, const double* jet_rows);
  // Images [count, 100, 100] each (only with options.images).
  void write_images(std::int64_t first, std::int64_t count, const double* all, const double* ecal, const double* hcal);
  void close();

 private:
  h5::File file_;
  h5::Dataset constituents_, jets_, images_[3];
};

}  // namespace ucluster::jets
