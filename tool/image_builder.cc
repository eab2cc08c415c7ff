#include "image_builder.h"

#include <elf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "file_util.h"
#include "hash.h"
#include "log.h"
#include "oci_image.h"
#include "oci_layout.h"
#include "tar_writer.h"

namespace wandb_job {
namespace {

constexpr char kProgramDir[] = "/usr/local/bin";
constexpr char kProjectLibDir[] = "/usr/local/lib";
constexpr char kPrivateLibDir[] = "/opt/wandb-job/lib";
constexpr char kShimPath[] = "/usr/local/bin/wandb-job";
constexpr char kJobSpecPath[] = "/etc/wandb-job/job.json";
constexpr char kShimStoreEnv[] = "WANDB_JOB_STORE";
constexpr char kShimStoreDir[] = "/tmp/wandb-job-store";

// Bounds-checked access to the bytes of an ELF file of the host's byte order.
template <typename T>
bool At(std::string* data, uint64_t offset, T** out) {
  if (offset > data->size() || sizeof(T) > data->size() - offset) {
    return false;
  }
  *out = reinterpret_cast<T*>(data->data() + offset);  // ELF structures are packed by design.
  return true;
}

struct ElfTypes64 {
  using Ehdr = Elf64_Ehdr;
  using Phdr = Elf64_Phdr;
  using Shdr = Elf64_Shdr;
  using Dyn = Elf64_Dyn;
  using Sym = Elf64_Sym;
  using Nhdr = Elf64_Nhdr;
};
struct ElfTypes32 {
  using Ehdr = Elf32_Ehdr;
  using Phdr = Elf32_Phdr;
  using Shdr = Elf32_Shdr;
  using Dyn = Elf32_Dyn;
  using Sym = Elf32_Sym;
  using Nhdr = Elf32_Nhdr;
};

bool IsStringTag(int64_t tag) {
  return tag == DT_NEEDED || tag == DT_SONAME || tag == DT_RPATH || tag == DT_RUNPATH ||
         tag == DT_AUXILIARY || tag == DT_FILTER || tag == DT_CONFIG || tag == DT_DEPAUDIT ||
         tag == DT_AUDIT;
}

template <typename E>
bool StripElf(std::string* data, bool* changed, std::string* err) {
  using Ehdr = typename E::Ehdr;
  using Phdr = typename E::Phdr;
  using Shdr = typename E::Shdr;
  using Dyn = typename E::Dyn;
  using Sym = typename E::Sym;
  using Nhdr = typename E::Nhdr;
  Ehdr* eh;
  if (!At(data, 0, &eh) || eh->e_phentsize != sizeof(Phdr)) {
    *err = "malformed ELF header";
    return false;
  }
  std::vector<Phdr*> phdrs;
  for (unsigned i = 0; i < eh->e_phnum; ++i) {
    Phdr* ph;
    if (!At(data, eh->e_phoff + uint64_t{i} * sizeof(Phdr), &ph)) {
      *err = "program header out of bounds";
      return false;
    }
    phdrs.push_back(ph);
  }
  auto to_offset = [&](uint64_t vaddr, uint64_t* off) {
    for (Phdr* ph : phdrs) {
      if (ph->p_type == PT_LOAD && vaddr >= ph->p_vaddr && vaddr < ph->p_vaddr + ph->p_filesz) {
        *off = vaddr - ph->p_vaddr + ph->p_offset;
        return true;
      }
    }
    return false;
  };
  Phdr* dynamic = nullptr;
  for (Phdr* ph : phdrs) {
    if (ph->p_type == PT_DYNAMIC) {
      dynamic = ph;
    }
  }
  if (dynamic == nullptr) {
    return true;  // Static: nothing to strip.
  }
  std::vector<Dyn*> dyns;
  uint64_t strtab_vaddr = 0;
  uint64_t strsz = 0;
  for (uint64_t off = dynamic->p_offset; off + sizeof(Dyn) <= dynamic->p_offset + dynamic->p_filesz;
       off += sizeof(Dyn)) {
    Dyn* d;
    if (!At(data, off, &d)) {
      *err = "dynamic section out of bounds";
      return false;
    }
    dyns.push_back(d);
    if (d->d_tag == DT_NULL) {
      break;
    }
    if (d->d_tag == DT_STRTAB) {
      strtab_vaddr = d->d_un.d_ptr;
    } else if (d->d_tag == DT_STRSZ) {
      strsz = d->d_un.d_val;
    }
  }
  uint64_t strtab = 0;
  if (!to_offset(strtab_vaddr, &strtab) || strtab > data->size() || strsz > data->size() - strtab) {
    *err = "dynamic string table out of bounds";
    return false;
  }
  auto str_len = [&](uint64_t o) {
    const char* s = data->data() + strtab + o;
    return o < strsz ? strnlen(s, strsz - o) : 0;
  };
  // Strings still in use: other dynamic entries, symbol names, version names.
  std::vector<std::pair<uint64_t, uint64_t>> used;  // [begin, end] offsets in the string table
  std::vector<uint64_t> removed;
  for (Dyn* d : dyns) {
    if (d->d_tag == DT_RPATH || d->d_tag == DT_RUNPATH) {
      removed.push_back(d->d_un.d_val);
    } else if (IsStringTag(d->d_tag)) {
      used.emplace_back(d->d_un.d_val, d->d_un.d_val + str_len(d->d_un.d_val));
    }
  }
  if (removed.empty()) {
    return true;
  }
  bool strings_known = eh->e_shentsize == sizeof(Shdr) && eh->e_shnum > 0;
  for (unsigned i = 0; strings_known && i < eh->e_shnum; ++i) {
    Shdr* sh;
    if (!At(data, eh->e_shoff + uint64_t{i} * sizeof(Shdr), &sh)) {
      strings_known = false;
      break;
    }
    if (sh->sh_type == SHT_DYNSYM) {
      for (uint64_t o = sh->sh_offset; o + sizeof(Sym) <= sh->sh_offset + sh->sh_size;
           o += sizeof(Sym)) {
        Sym* sym;
        if (!At(data, o, &sym)) {
          strings_known = false;
          break;
        }
        used.emplace_back(sym->st_name, sym->st_name + str_len(sym->st_name));
      }
    } else if (sh->sh_type == SHT_GNU_verneed) {
      uint64_t o = sh->sh_offset;
      for (unsigned n = 0; n < sh->sh_info && strings_known; ++n) {
        Elf64_Verneed* vn;  // Same layout in ELF32.
        if (!At(data, o, &vn)) {
          strings_known = false;
          break;
        }
        used.emplace_back(vn->vn_file, vn->vn_file + str_len(vn->vn_file));
        uint64_t a = o + vn->vn_aux;
        for (unsigned k = 0; k < vn->vn_cnt; ++k) {
          Elf64_Vernaux* aux;
          if (!At(data, a, &aux)) {
            strings_known = false;
            break;
          }
          used.emplace_back(aux->vna_name, aux->vna_name + str_len(aux->vna_name));
          a += aux->vna_next;
        }
        o += vn->vn_next;
      }
    } else if (sh->sh_type == SHT_GNU_verdef) {
      uint64_t o = sh->sh_offset;
      for (unsigned n = 0; n < sh->sh_info && strings_known; ++n) {
        Elf64_Verdef* vd;
        if (!At(data, o, &vd)) {
          strings_known = false;
          break;
        }
        uint64_t a = o + vd->vd_aux;
        for (unsigned k = 0; k < vd->vd_cnt; ++k) {
          Elf64_Verdaux* aux;
          if (!At(data, a, &aux)) {
            strings_known = false;
            break;
          }
          used.emplace_back(aux->vda_name, aux->vda_name + str_len(aux->vda_name));
          a += aux->vda_next;
        }
        o += vd->vd_next;
      }
    }
  }
  // Drop the entries: later ones move up, DT_NULL fills the end (the array's length is fixed).
  size_t w = 0;
  for (size_t r = 0; r < dyns.size(); ++r) {
    if (dyns[r]->d_tag == DT_RPATH || dyns[r]->d_tag == DT_RUNPATH) {
      continue;
    }
    if (w != r) {
      *dyns[w] = *dyns[r];
    }
    ++w;
  }
  for (; w < dyns.size(); ++w) {
    memset(dyns[w], 0, sizeof(Dyn));
  }
  for (uint64_t o : removed) {
    uint64_t end = o + str_len(o);
    bool shared = !strings_known;
    for (const auto& [b, e] : used) {
      shared = shared || (b <= end && o <= e);
    }
    if (!shared) {
      memset(data->data() + strtab + o, 0, end - o);
    }
  }
  // The build ID hashed the old bytes: recompute it from the new ones.
  for (Phdr* ph : phdrs) {
    if (ph->p_type != PT_NOTE) {
      continue;
    }
    uint64_t o = ph->p_offset;
    uint64_t end = ph->p_offset + ph->p_filesz;
    while (o + sizeof(Nhdr) <= end) {
      Nhdr* n;
      if (!At(data, o, &n)) {
        break;
      }
      uint64_t name_off = o + sizeof(Nhdr);
      uint64_t desc_off = name_off + ((n->n_namesz + 3) & ~3u);
      uint64_t next = desc_off + ((n->n_descsz + 3) & ~3u);
      if (next > end || next > data->size()) {
        break;
      }
      if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
          memcmp(data->data() + name_off, "GNU", 4) == 0) {
        memset(data->data() + desc_off, 0, n->n_descsz);
        Hasher h(HashAlgorithm::kSha256);
        h.Update(*data);
        std::string id = h.Finish();
        while (id.size() < n->n_descsz) {
          id += id;
        }
        memcpy(data->data() + desc_off, id.data(), n->n_descsz);
      }
      o = next;
    }
  }
  *changed = true;
  return true;
}

bool IsNativeByteOrder(const std::string& data) {
  const uint16_t probe = 1;
  bool host_le = *reinterpret_cast<const uint8_t*>(&probe) == 1;
  return data.size() > EI_DATA && (data[EI_DATA] == ELFDATA2LSB) == host_le;
}

std::string Basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }
std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The image copy of a project ELF file: stripped bytes in memory, or the file itself.
bool ProjectElfEntry(const std::string& source, const std::string& dest, unsigned mode,
                     TarEntry* out, std::string* err) {
  std::string stripped;
  bool changed = false;
  if (!StripBuildPaths(source, &stripped, &changed, err)) {
    return false;
  }
  out->path = dest;
  out->mode = mode;
  if (changed) {
    out->contents = std::move(stripped);
  } else {
    out->source_file = source;
  }
  return true;
}

bool AddUserFiles(const BundleImageInput& input, std::vector<TarEntry>* out, std::string* err) {
  for (const auto& [source, dest] : input.files) {
    if (dest.empty() || dest[0] != '/') {
      *err = "image file destination '" + dest + "' is not an absolute path";
      return false;
    }
    struct stat st;
    if (stat(source.c_str(), &st) != 0) {
      *err = "image file " + source + ": " + strerror(errno);
      return false;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
      *err = "image file " + source + " is " + SpecialKind(st.st_mode) +
             "; list regular files and directories only";
      return false;
    }
    if (!S_ISDIR(st.st_mode)) {
      TarEntry e;
      e.path = NormalizePath(dest);
      e.source_file = source;
      e.mode = (st.st_mode & 0111) != 0 ? 0755 : 0644;
      out->push_back(e);
      continue;
    }
    bool ok = WalkDirectory(
        source,
        [&, &source = source, &dest = dest](const DirEntry& d) {
          TarEntry e;
          e.path = NormalizePath(dest + "/" + d.relpath);
          std::string from = JoinPath(source, d.relpath);
          struct stat fst;
          if (d.is_dir) {
            e.type = TarEntryType::kDirectory;
            e.mode = 0755;
          } else if (stat(from.c_str(), &fst) != 0) {
            Warning("image file %s leads nowhere; left out of the image", from.c_str());
            return true;
          } else if (S_ISREG(fst.st_mode)) {
            e.source_file = from;
            e.mode = (fst.st_mode & 0111) != 0 ? 0755 : 0644;
          } else {  // Reading a FIFO would block the image build.
            Warning("image file %s is %s; left out of the image", from.c_str(),
                    SpecialKind(fst.st_mode).c_str());
            return true;
          }
          out->push_back(e);
          return true;
        },
        err);
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string ImageTag(const std::string& image) {
  ImageReference ref;
  std::string ignored;
  if (!image.empty() && ParseImageReference(image, &ref, &ignored) && !ref.tag.empty()) {
    return ref.tag;
  }
  return "latest";
}

// /etc/wandb-job/job.json, what `wandb-job exec --job-spec` reads: the default config and the
// ARGS template. Keys keep their order, so the same job gives the same bytes.
bool ShimJobSpec(const BundleImageInput& input, std::string* out, std::string* err) {
  using nlohmann::ordered_json;
  ordered_json config = input.config.empty() ? ordered_json::object()
                                             : ordered_json::parse(input.config, nullptr, false);
  if (!config.is_object()) {
    *err = "the default config is not a JSON object";
    return false;
  }
  ordered_json spec;
  spec["config"] = config;
  spec["args"] = input.args_template;
  *out = spec.dump(2) + "\n";
  return true;
}

bool HasEnv(const std::vector<std::string>& env, const std::string& name) {
  return std::any_of(env.begin(), env.end(),
                     [&](const std::string& e) { return e.rfind(name + "=", 0) == 0; });
}

}  // namespace

bool StripBuildPaths(const std::string& path, std::string* out, bool* changed, std::string* err) {
  *changed = false;
  if (!ReadFile(path, out, err)) {
    return false;
  }
  if (out->size() < EI_NIDENT || memcmp(out->data(), ELFMAG, SELFMAG) != 0) {
    *err = path + " is not an ELF file";
    return false;
  }
  if (!IsNativeByteOrder(*out)) {
    return true;  // Cross-endian targets keep their paths (the image still runs).
  }
  bool ok = (*out)[EI_CLASS] == ELFCLASS64 ? StripElf<ElfTypes64>(out, changed, err)
                                           : StripElf<ElfTypes32>(out, changed, err);
  if (!ok) {
    *err = path + ": " + *err;
  }
  return ok;
}

bool BuildBundleImage(const BundleImageInput& input, const std::string& layout_dir,
                      std::string* err) {
  const bool scratch = input.base_image.empty();
  std::string binary_dir = NormalizePath(input.binary_dir);
  std::string real_binary_dir = binary_dir;
  std::string ignored;
  if (!binary_dir.empty() && !RealPath(binary_dir, &real_binary_dir, &ignored)) {
    real_binary_dir = binary_dir;
  }
  auto in_project = [&](const SharedLibrary& lib) {
    return !binary_dir.empty() && (IsWithin(NormalizePath(lib.path), binary_dir) ||
                                   IsWithin(lib.real_path, real_binary_dir));
  };

  const bool with_shim = !input.shim_file.empty();
  std::vector<TarEntry> shim_layer, system_libs, project_libs, files, program;
  std::vector<std::string> lib_dirs;
  auto add_dir = [&lib_dirs](const std::string& d) {
    if (std::find(lib_dirs.begin(), lib_dirs.end(), d) == lib_dirs.end()) {
      lib_dirs.push_back(d);
    }
  };
  // Where a library from outside the project goes; the loader's path for an interpreter.
  auto system_entry = [&](const SharedLibrary& lib, std::string* interpreter) {
    TarEntry e;
    e.source_file = lib.real_path.empty() ? lib.path : lib.real_path;
    e.mode = 0755;
    if (!scratch) {
      e.path = JoinPath(kPrivateLibDir, lib.is_interpreter ? Basename(lib.path) : lib.soname);
    } else {
      e.path = NormalizePath(lib.path);
    }
    if (lib.is_interpreter && !scratch) {
      *interpreter = e.path;  // Runs the program explicitly, not the base's loader.
    }
    return e;
  };
  // The shim's layer depends on the shim alone (not on the target, the build directory or the
  // commit), so every job and rebuild shares it. The target's layers leave out what it holds.
  std::set<std::string> in_shim_layer;
  std::string shim_interpreter;
  if (with_shim) {
    for (const SharedLibrary& lib : input.shim_closure) {
      TarEntry e = system_entry(lib, &shim_interpreter);
      if (in_shim_layer.insert(e.path).second) {
        shim_layer.push_back(std::move(e));
      }
    }
    TarEntry shim;
    if (!ProjectElfEntry(input.shim_file, kShimPath, 0755, &shim, err)) {
      *err = "preparing the run shim " + input.shim_file + " for the image: " + *err;
      return false;
    }
    shim_layer.push_back(std::move(shim));
  }
  std::string interpreter;
  for (const SharedLibrary& lib : input.closure) {
    std::string source = lib.real_path.empty() ? lib.path : lib.real_path;
    if (in_project(lib) && !lib.is_interpreter) {
      TarEntry e;
      if (!ProjectElfEntry(source, JoinPath(kProjectLibDir, lib.soname), 0755, &e, err)) {
        return false;
      }
      project_libs.push_back(std::move(e));
      continue;
    }
    TarEntry e = system_entry(lib, &interpreter);
    if (scratch && !lib.is_interpreter) {
      add_dir(Dirname(e.path));
    }
    if (in_shim_layer.count(e.path) == 0) {
      system_libs.push_back(std::move(e));
    }
  }
  for (const SharedLibrary& lib : input.shim_closure) {
    if (with_shim && scratch && !lib.is_interpreter) {
      add_dir(Dirname(NormalizePath(lib.path)));
    }
  }
  if (!project_libs.empty()) {
    lib_dirs.insert(lib_dirs.begin(), kProjectLibDir);
  }
  if (!scratch && (!system_libs.empty() || shim_layer.size() > 1)) {
    add_dir(kPrivateLibDir);
  }
  if (scratch) {
    TarEntry tmp;
    tmp.path = "tmp";
    tmp.type = TarEntryType::kDirectory;
    tmp.mode = 01777;
    system_libs.push_back(tmp);
  }
  if (!AddUserFiles(input, &files, err)) {
    return false;
  }
  std::string program_name = Basename(input.target_file);
  std::string program_path = JoinPath(kProgramDir, program_name);
  TarEntry exe;
  if (!ProjectElfEntry(input.target_file, program_path, 0755, &exe, err)) {
    *err = "preparing " + input.target_file + " for the image: " + *err;
    return false;
  }
  program.push_back(std::move(exe));
  if (with_shim) {
    TarEntry spec;
    spec.path = kJobSpecPath;
    if (!ShimJobSpec(input, &spec.contents, err)) {
      *err = "writing the run shim's job spec: " + *err;
      return false;
    }
    program.push_back(std::move(spec));
  }

  if (!RemoveTree(layout_dir, err) || !InitLayout(layout_dir, err)) {
    return false;
  }
  LayerOptions options;
  options.mtime = input.created;
  options.cache_dir = input.layer_cache_dir;
  ImageConfig config;
  config.created = FormatRfc3339(input.created);
  Manifest manifest;
  LayerOptions shim_options = options;
  shim_options.mtime = 0;
  const struct {
    std::vector<TarEntry>* entries;
    std::string created_by;
    const LayerOptions* options;
  } layers[] = {
      {&shim_layer, "wandb-job: run shim", &shim_options},
      {&system_libs, "wandb-job: shared libraries", &options},
      {&project_libs, "wandb-job: project libraries", &options},
      {&files, "wandb-job: files", &options},
      {&program, "wandb-job: " + program_name, &options},
  };
  for (const auto& [entries, created_by, layer_options] : layers) {
    if (entries->empty()) {
      continue;
    }
    Layer layer;
    if (!WriteTarLayer(layout_dir, *entries, *layer_options, &layer, err)) {
      *err = "writing layer '" + created_by + "': " + *err;
      return false;
    }
    manifest.layers.push_back(layer.blob);
    config.diff_ids.push_back(layer.diff_id);
    config.history.push_back(created_by);
  }

  std::vector<std::string> run_program = {program_path};
  if (!interpreter.empty()) {
    run_program.insert(run_program.begin(), interpreter);
  }
  if (!with_shim) {
    config.entrypoint = run_program;
    config.cmd = input.args;
  } else {
    // The shim renders ARGS itself, with the launch config (WANDB_CONFIG) over the defaults.
    if (!shim_interpreter.empty()) {
      config.entrypoint.push_back(shim_interpreter);
    }
    config.entrypoint.insert(config.entrypoint.end(),
                             {kShimPath, "exec", "--job-spec", kJobSpecPath, "--"});
    config.entrypoint.insert(config.entrypoint.end(), run_program.begin(), run_program.end());
    if (run_program.size() > 1) {
      // ARGS after the program replace the job spec's, so the template follows the loader's
      // program argument.
      config.cmd = input.args_template;
    }
  }
  config.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (!lib_dirs.empty()) {
    std::string path;
    for (const std::string& d : lib_dirs) {
      path += (path.empty() ? "" : ":") + d;
    }
    config.env.push_back("LD_LIBRARY_PATH=" + path);
  }
  if (with_shim && !HasEnv(input.env, kShimStoreEnv)) {
    // Offline run records of the shim: somewhere writable for any user.
    config.env.push_back(std::string(kShimStoreEnv) + "=" + kShimStoreDir);
  }
  config.env.insert(config.env.end(), input.env.begin(), input.env.end());
  config.working_dir = input.working_dir.empty() ? "/" : input.working_dir;
  config.user = input.user;
  std::map<std::string, std::string> annotations;
  annotations[kAnnotationCreated] = config.created;
  annotations[kAnnotationTitle] = input.target;
  if (!input.source_url.empty()) {
    annotations[kAnnotationSource] = input.source_url;
  }
  if (!input.revision.empty()) {
    annotations[kAnnotationRevision] = input.revision;
  }
  config.labels = annotations;

  std::string config_json = config.ToJson();
  if (!WriteBlob(layout_dir, config_json, kOciConfigMediaType, &manifest.config, err)) {
    return false;
  }
  manifest.annotations = annotations;
  if (!scratch) {
    // Resolved and merged when pushing (building stays offline).
    manifest.annotations[kAnnotationBaseName] = input.base_image;
  }
  Descriptor manifest_desc;
  if (!WriteBlob(layout_dir, manifest.ToJson(), kOciManifestMediaType, &manifest_desc, err)) {
    return false;
  }
  manifest_desc.annotations[kAnnotationRefName] = ImageTag(input.image);
  ImageIndex index;
  index.manifests.push_back(manifest_desc);
  return WriteIndex(layout_dir, index, err);
}

}  // namespace wandb_job
