/* The Philox4x32-10 multipliers and Weyl increments (Salmon et al., SC'11), shared by the
 * scalar generator (src_c/philox.c) and the vector one (src_c/philox_impl.h). */
#ifndef FASTNN_PHILOX_CONSTANTS_H
#define FASTNN_PHILOX_CONSTANTS_H

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

#endif /* FASTNN_PHILOX_CONSTANTS_H */
