/**
 * Constants of the NBD wire protocol (fixed newstyle handshake, simple replies), as
 * defined by the public specification: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md
 * Only what this server uses is named here; docs/nbd.md says which parts we implement.
 */

/** "NBDMAGIC": first eight bytes the server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": the newstyle magic, and the magic in front of every client option. */
export const NBD_OPTS_MAGIC = 0x49484156454f5054n;
/** Magic in front of every option reply. */
export const NBD_REP_MAGIC = 0x3e889045565a9n;
/** Magic in front of every transmission request. */
export const NBD_REQUEST_MAGIC = 0x25609513;
/** Magic in front of every simple reply. */
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;

/** Handshake flags the server sends. */
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
/** Client flags. */
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

/** Option codes. */
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;

/** Option reply types; errors have bit 31 set. */
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_ERR_UNSUP = 0x80000001;
export const NBD_REP_ERR_POLICY = 0x80000002;
export const NBD_REP_ERR_INVALID = 0x80000003;
export const NBD_REP_ERR_UNKNOWN = 0x80000006;

/** Information types inside NBD_REP_INFO. */
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

/** Transmission flags (sent with the export size). */
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

/** Command flags. */
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_FAST_ZERO = 1 << 4;

/** Command types. */
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;

/** Error values of replies (Linux errno numbers, as the spec fixes them). */
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ENOTSUP = 95;
export const NBD_ESHUTDOWN = 108;

/** Sizes of fixed-layout messages. */
export const CLIENT_FLAGS_BYTES = 4;
export const OPTION_HEADER_BYTES = 16;
export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
/** Padding after the NBD_OPT_EXPORT_NAME reply unless the client asked for none. */
export const EXPORT_NAME_PADDING = 124;

/** Option payloads above this are hostile or broken: the server closes the connection. */
export const MAX_OPTION_BYTES = 64 * 1024;
/** The spec caps strings (export names, messages) at 4096 bytes. */
export const MAX_STRING_BYTES = 4096;
/** Default and ceiling of the largest READ/WRITE payload this server accepts. */
export const DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024;
