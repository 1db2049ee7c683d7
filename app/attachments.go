package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // image.DecodeConfig reads JPEG
	_ "image/png"  // and PNG
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/liaison-ent/liaison/internal/store"
)

// Attachments: an agent attaches up to MaxAttachments files (PDF, JPEG,
// PNG, each at most MaxAttachmentSize) to a notice. The type is read from
// the content, never from the name; an image needs its text alternative
// (RGAA). The notice lists its files (store.Notice.Attachments); the
// content is stored apart, written before the notice lists it and deleted
// after it stops listing it, so a listed file always has its content.

// Attachment limits.
const (
	MaxAttachments    = 3
	MaxAttachmentSize = 5 << 20 // 5 MiB
	maxAttachmentName = 120     // characters of the shown name
	maxAltText        = 250     // characters of an image's text alternative
	maxImageSide      = 10000   // pixels: larger is refused (a decompression bomb for readers)
)

// The attachment types.
const (
	TypePDF  = "application/pdf"
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
)

// AttachmentUpload is a file an agent attaches to a notice.
type AttachmentUpload struct {
	NoticeID string
	Name     string // the file's name as sent (only shown, cleaned)
	Alt      string // the text alternative, required for an image
	Data     []byte
}

// AttachmentFile is an attachment and its content, for a reader.
type AttachmentFile struct {
	store.Attachment
	Data []byte
}

// IsImage reports an image attachment (shown inline with its alternative).
func IsImage(contentType string) bool { return contentType == TypeJPEG || contentType == TypePNG }

// SniffAttachment is the type of an attachment's content: a PDF (its
// header, and an end-of-file marker in its last KiB), a JPEG or a PNG
// whose header decodes (image.DecodeConfig) to a sane size. "" for
// anything else: HTML, SVG, a script, a truncated or disguised file.
func SniffAttachment(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		tail := data[max(0, len(data)-1024):]
		if bytes.Contains(tail, []byte("%%EOF")) {
			return TypePDF
		}
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")), bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxImageSide || cfg.Height > maxImageSide {
			return ""
		}
		switch format {
		case "jpeg":
			return TypeJPEG
		case "png":
			return TypePNG
		}
	}
	return ""
}

// extensions is the extension a file of each type is shown with.
var extensions = map[string]string{TypePDF: ".pdf", TypeJPEG: ".jpg", TypePNG: ".png"}

// AttachmentName cleans a sent file name into the name shown and offered
// for download: no directory, no control or quoting characters, at most
// maxAttachmentName characters, and the extension of its real type.
func AttachmentName(name, contentType string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimSpace(name))
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "")
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), strings.ContainsRune("\"<>:|?*/;", r), unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, name)
	ext := extensions[contentType]
	base := strings.TrimSpace(strings.TrimSuffix(name, path.Ext(name)))
	base = strings.Trim(base, ". ")
	if base == "" {
		base = "piece-jointe"
	}
	if r := []rune(base); len(r) > maxAttachmentName-len(ext) {
		base = strings.TrimSpace(string(r[:maxAttachmentName-len(ext)]))
	}
	return base + ext
}

// attachmentDetail is a detail naming the file field.
func attachmentDetail(code, fr, en string) Detail { return NewDetail("file", code, fr, en) }

// checkUpload validates an upload alone (before any notice is read): its
// size, text alternative and type. It returns the type.
func checkUpload(up *AttachmentUpload) (string, error) {
	if len(up.Data) == 0 {
		return "", Err(CodeAttachmentsInvalid, attachmentDetail("attachment.empty",
			"Aucun fichier n'a été envoyé (champ « file »).", "No file was sent (field \"file\")."))
	}
	if len(up.Data) > MaxAttachmentSize {
		return "", Err(CodeAttachmentsTooLarge)
	}
	up.Alt = strings.TrimSpace(up.Alt)
	if utf8.RuneCountInString(up.Alt) > maxAltText || !utf8.ValidString(up.Alt) || strings.ContainsFunc(up.Alt, unicode.IsControl) {
		return "", Err(CodeAttachmentsInvalid, NewDetail("alt", "attachment.alt_invalid",
			fmt.Sprintf("Le texte alternatif doit tenir en %d caractères, sur une ligne.", maxAltText),
			fmt.Sprintf("The text alternative must fit in %d characters, on one line.", maxAltText)))
	}
	ct := SniffAttachment(up.Data)
	if ct == "" {
		return "", Err(CodeAttachmentsUnsupportedType)
	}
	if IsImage(ct) && up.Alt == "" {
		return "", Err(CodeAttachmentsAltRequired)
	}
	return ct, nil
}

// CheckAttachment validates an upload without storing it (the back-office
// checks a form's file before anything else).
func CheckAttachment(up AttachmentUpload) error {
	_, err := checkUpload(&up)
	return err
}

// AddAttachment attaches a file to a notice the agent may correct (the
// notice's collectivité and service; neither withdrawn nor expired). The
// limit of MaxAttachments is decided by the notice's version: of two
// concurrent additions to a notice, one stores and the other is
// resource.modified, so a notice never lists more. Nothing is left
// behind when it fails.
func (a *App) AddAttachment(ctx context.Context, p *Principal, up AttachmentUpload) (store.Attachment, error) {
	ct, err := checkUpload(&up)
	if err != nil {
		return store.Attachment{}, err
	}
	n, err := a.changeable(ctx, p, up.NoticeID, false)
	if err != nil {
		return store.Attachment{}, err
	}
	now := a.Now()
	if !editable(n.StatusAt(now)) {
		return store.Attachment{}, Err(CodeNoticesNotEditable)
	}
	if len(n.Attachments) >= MaxAttachments {
		return store.Attachment{}, Err(CodeAttachmentsTooMany)
	}
	att := store.Attachment{ID: store.NewID("att", now), Name: AttachmentName(up.Name, ct), ContentType: ct,
		Size: int64(len(up.Data)), AddedAt: now}
	if IsImage(ct) {
		att.Alt = up.Alt
	}
	if err := a.store.PutAttachmentData(ctx, n.ID, att.ID, up.Data); err != nil {
		return store.Attachment{}, err
	}
	next := n
	next.Attachments = append(slices.Clip(n.Attachments), att)
	next.UpdatedAt = now
	entry := a.Audit(p, "notice.attachment_add", n.ID, fmt.Sprintf("Pièce jointe « %s » (%s, %d octets) ajoutée à « %s »", att.Name, ct, att.Size, n.Title), n.CollectiviteID)
	if err := a.store.UpdateNotice(ctx, next, n.Version, entry); err != nil {
		_ = a.store.DeleteAttachmentData(context.WithoutCancel(ctx), n.ID, att.ID) // unlisted: unreachable anyway
		return store.Attachment{}, err
	}
	a.NoticesChanged()
	return att, nil
}

// RemoveAttachment takes a file off a notice the agent may correct.
func (a *App) RemoveAttachment(ctx context.Context, p *Principal, noticeID, id string) error {
	n, err := a.changeable(ctx, p, noticeID, false)
	if err != nil {
		return err
	}
	now := a.Now()
	i := slices.IndexFunc(n.Attachments, func(x store.Attachment) bool { return x.ID == id })
	if i < 0 {
		return Err(CodeResourceNotFound)
	}
	if !editable(n.StatusAt(now)) {
		return Err(CodeNoticesNotEditable)
	}
	att := n.Attachments[i]
	next := n
	next.Attachments = slices.Delete(slices.Clone(n.Attachments), i, i+1)
	next.UpdatedAt = now
	entry := a.Audit(p, "notice.attachment_remove", n.ID, fmt.Sprintf("Pièce jointe « %s » retirée de « %s »", att.Name, n.Title), n.CollectiviteID)
	if err := a.store.UpdateNotice(ctx, next, n.Version, entry); err != nil {
		return err
	}
	a.NoticesChanged()
	// Unlisted now; content left by a failure here goes with the notice.
	if err := a.store.DeleteAttachmentData(ctx, n.ID, id); err != nil {
		a.log.Warn("app: attachment content left until the notice's purge", "notice", n.ID, "attachment", id, "error", err)
	}
	return nil
}

// NoticeAttachment is a file of a notice p may read (staff: the same rule
// as Notice); resource.not_found otherwise.
func (a *App) NoticeAttachment(ctx context.Context, p *Principal, noticeID, id string) (AttachmentFile, error) {
	n, err := a.Notice(ctx, p, noticeID)
	if err != nil {
		return AttachmentFile{}, err
	}
	return a.attachmentFile(ctx, n.ID, n.Attachments, id)
}

// FeedAttachment is a file of a notice in the signed-in parent's feed
// (published now, to one of their children): resource.not_found for any
// other notice — another school's, another ENT's, a withdrawn one.
func (a *App) FeedAttachment(ctx context.Context, p *Principal, noticeID, id string) (AttachmentFile, error) {
	_, f, it, err := a.parentFeedItem(ctx, p, noticeID)
	defer f.release()
	if err != nil {
		return AttachmentFile{}, err
	}
	return a.attachmentFile(ctx, it.ID, it.Attachments, id)
}

func (a *App) attachmentFile(ctx context.Context, noticeID string, list []store.Attachment, id string) (AttachmentFile, error) {
	i := slices.IndexFunc(list, func(x store.Attachment) bool { return x.ID == id })
	if i < 0 {
		return AttachmentFile{}, Err(CodeResourceNotFound)
	}
	data, err := a.store.AttachmentData(ctx, noticeID, id)
	if err != nil {
		return AttachmentFile{}, err
	}
	return AttachmentFile{Attachment: list[i], Data: data}, nil
}

// AttachmentLabel is how a PDF is announced, its name and size: « Menu de
// décembre (PDF, 240 Ko) », "Menu de décembre (PDF, 240 KB)".
func AttachmentLabel(name string, size int64, lang string) string {
	base := strings.TrimSuffix(name, ".pdf")
	unitK, unitM, sep := "Ko", "Mo", ","
	if lang == "en" {
		unitK, unitM, sep = "KB", "MB", "."
	}
	if size >= 1<<20 {
		mb := strings.Replace(strconv.FormatFloat(float64(size)/(1<<20), 'f', 1, 64), ".", sep, 1)
		return base + " (PDF, " + mb + " " + unitM + ")"
	}
	return base + " (PDF, " + strconv.FormatInt((size+1023)/1024, 10) + " " + unitK + ")"
}

// AttachmentSize is a file's size as people read it: « 240 Ko »,
// « 1,2 Mo »; "240 KB", "1.2 MB".
func AttachmentSize(size int64, lang string) string {
	unitK, unitM, sep := "Ko", "Mo", ","
	if lang == "en" {
		unitK, unitM, sep = "KB", "MB", "."
	}
	if size >= 1<<20 {
		return strings.Replace(strconv.FormatFloat(float64(size)/(1<<20), 'f', 1, 64), ".", sep, 1) + " " + unitM
	}
	return strconv.FormatInt((size+1023)/1024, 10) + " " + unitK
}
