package web

import "html/template"

// Every text a reader sees from this package is here, in Polish; the
// templates only arrange them. The signup form's texts repeat i18n/pl.toml
// (signup*), because the error page re-renders the site's form server-side.

// Signup form labels and the messages signup.js reads from data-msg-*.
const (
	msgFormEmail          = "Adres e-mail"
	msgFormName           = "Imię"
	msgFormOptional       = "(opcjonalnie)"
	msgFormConsentLabel   = "Zgoda"
	msgFormWhitepaper     = "Wyślij mi też białą księgę"
	msgFormWhitepaperHint = "PDF „%s”"
	msgFormHoneypot       = "Zostaw to pole puste"
	msgFormSubmit         = "Zapisz się"
	msgFormNote           = "Na podany adres wyślemy wiadomość z linkiem potwierdzającym. Zapis zacznie działać, gdy go klikniesz."
	msgFormSending        = "Wysyłanie…"
	msgFormNetwork        = "Nie udało się połączyć z serwerem. Sprawdź połączenie z internetem i spróbuj ponownie."
)

// msgFormConsent is the consent label; it links the privacy policy.
const msgFormConsent template.HTML = `Chcę otrzymywać na podany adres e-mail newsletter z poradnikami i informacjami o usługach naszego biura. Wiem, że mogę się wypisać w każdej chwili, a zasady przetwarzania danych opisuje <a href="/polityka-prywatnosci/">polityka prywatności</a>.`

// Answers of POST /api/subscribe.
const (
	msgSignupDone    = "Dziękujemy! Sprawdź skrzynkę i kliknij link potwierdzający."
	msgSignupFields  = "Popraw zaznaczone pola i wyślij formularz ponownie."
	msgSignupFailed  = "Nie udało się zapisać. Spróbuj ponownie za kilka minut."
	msgSignupRate    = "Zbyt wiele prób w krótkim czasie. Odczekaj chwilę i spróbuj ponownie."
	msgSignupTitle   = "Zapisz się na newsletter"
	msgSignupErrorTi = "Błąd w formularzu zapisu"

	msgEmailEmpty   = "Podaj adres e-mail."
	msgEmailTooLong = "Adres e-mail jest za długi – może mieć najwyżej 254 znaki."
	msgEmailControl = "Adres e-mail zawiera niedozwolone znaki."
	msgEmailNoDot   = "W domenie adresu brakuje kropki – sprawdź końcówkę, np. example.pl."
	msgEmailInvalid = "To nie wygląda na adres e-mail. Sprawdź, czy jest wpisany poprawnie, np. jan.kowalska@example.pl."
	msgNameTooLong  = "Imię może mieć najwyżej 100 znaków."
	msgNameControl  = "Imię zawiera niedozwolone znaki, np. znak nowej linii."
	msgNameChars    = "Imię może zawierać tylko litery, spacje, apostrofy, łączniki i kropki – bez cyfr, adresów i linków."
	msgConsent      = "Zaznacz zgodę na otrzymywanie newslettera – bez niej nie możemy cię zapisać."
	msgFieldControl = "Formularz zawiera niedozwolone znaki sterujące. Wpisz dane ponownie."

	msgBadEncoding   = "Formularz zawiera znaki w nieobsługiwanym kodowaniu. Wpisz dane ponownie."
	msgBadForm       = "Nie udało się odczytać formularza. Odśwież stronę i spróbuj ponownie."
	msgBadJSON       = "Nieprawidłowe dane: oczekiwano obiektu JSON z polami email, name, consent, whitepaper, website i source."
	msgBadJSONType   = "Nieprawidłowe dane: pole %q ma zły typ."
	msgTooLarge      = "Wysłane dane są za duże."
	msgMediaType     = "Nieobsługiwany format danych. Wyślij formularz ze strony albo dane JSON (Content-Type: application/json)."
	msgCrossSite     = "Ten formularz można wysłać tylko ze strony, na której się znajduje. Wejdź na stronę newslettera i zapisz się tam."
	msgMethod        = "Ta metoda nie jest tu obsługiwana."
	msgServerError   = "Coś poszło nie tak po naszej stronie. Spróbuj ponownie za kilka minut."
	msgPageNotFound  = "Nie ma takiej strony. Mogła zostać przeniesiona albo adres zawiera literówkę."
	msgNotFoundTitle = "Nie znaleziono strony"
)

// Page titles and headings of the pages the handlers render.
const (
	titleError       = "Wystąpił błąd"
	titleCrossSite   = "Formularz wysłany z innej strony"
	titleTooMany     = "Zbyt wiele prób"
	titleTooLarge    = "Za dużo danych"
	titleMediaType   = "Nieobsługiwany format"
	titleMethod      = "Niedozwolona metoda"
	titleConfirm     = "Potwierdź zapis na newsletter"
	titleConfirmed   = "Dziękujemy, zapis potwierdzony"
	titleExpired     = "Link wygasł"
	titleBadLink     = "Nieprawidłowy link"
	titleInactive    = "Link jest już nieaktywny"
	titleUnsubscribe = "Wypisanie z newslettera"
	titleUnsubDone   = "Wypisano"
	titleUnsubBefore = "Adres jest już wypisany"
	titleNotListed   = "Adresu nie ma na liście"
	titleWPExpired   = "Link do pobrania wygasł"
	titleWPMissing   = "Plik chwilowo niedostępny"
)

// Confirmation pages.
const (
	msgConfirmLead       = "Jeszcze jeden krok: potwierdź, że chcesz dostawać nasze poradniki na adres %s."
	msgConfirmHelp       = "Zapis zacznie działać po kliknięciu przycisku. Jeśli to nie ty zapisywałeś się na newsletter, po prostu zamknij tę stronę – nie wyślemy ci nic więcej."
	msgConfirmButton     = "Potwierdzam zapis"
	msgConfirmedWPAgain  = "Link do pobrania białej księgi wysłaliśmy e-mailem. Jeśli wygasł, poproś o nowy przez formularz na stronie białej księgi."
	msgConfirmedLead     = "Twój adres jest na liście. Będziemy wysyłać ci nowe poradniki."
	msgConfirmedLeadFreq = "Twój adres jest na liście. Będziemy wysyłać ci nowe poradniki – %s."
	msgConfirmedUnsub    = "W każdej wiadomości znajdziesz link, którym wypiszesz się jednym kliknięciem."
	msgConfirmedWelcome  = "Za chwilę przyjdzie e-mail powitalny: co i jak często będziemy ci wysyłać, od czego zacząć lekturę i link do ustawień, w których wybierzesz tematy albo jeden przegląd zamiast osobnych e-maili."
	msgConfirmedPrefs    = "Wybierz tematy i częstotliwość"
	msgConfirmedWPTitle  = "Twoja biała księga"
	msgConfirmedWPGated  = "Pobierz przewodnik w formacie PDF. Link jest ważny przez 7 dni; wysłaliśmy go też e-mailem."
	msgConfirmedWPFree   = "Pobierz przewodnik w formacie PDF. Link wysłaliśmy też e-mailem."
	msgConfirmedWPButton = "Pobierz białą księgę (PDF)"
	msgToGuides          = "Przejdź do poradników"

	msgExpiredLead  = "Link potwierdzający zapis jest ważny przez 72 godziny i ten już wygasł."
	msgExpiredAgain = "Zapisz się ponownie – wyślemy nowy link. Kliknij go w ciągu 72 godzin, a zapis zacznie działać."
	msgSignUpAgain  = "Zapisz się ponownie"

	msgBadLinkLead = "Ten link jest nieprawidłowy albo niepełny."
	msgBadLinkHelp = "Sprawdź, czy skopiowano go z wiadomości w całości – czasem program pocztowy dzieli długie linki na dwie linie. Możesz też zapisać się ponownie."

	msgInactiveLead = "Ten link potwierdzający nie jest już aktywny – na przykład dlatego, że po jego wysłaniu adres został wypisany z listy."
	msgInactiveHelp = "Jeśli chcesz dostawać poradniki, zapisz się ponownie. Wyślemy nowy link."
)

// Unsubscribe pages.
const (
	msgUnsubLead      = "Czy na pewno chcesz wypisać adres %s z newslettera?"
	msgUnsubHelp      = "Po wypisaniu nie wyślemy na ten adres kolejnych poradników. Zawsze możesz zapisać się ponownie."
	msgUnsubButton    = "Tak, wypisz mnie"
	msgUnsubStay      = "Nie, zostaję"
	msgUnsubDoneLead  = "Adres został wypisany z newslettera. Nie wyślemy na niego kolejnych poradników."
	msgUnsubDoneHelp  = "Wypisano przez pomyłkę albo zmienisz zdanie? Zapisz się ponownie w każdej chwili."
	msgUnsubBefore    = "Adres %s jest już wypisany z newslettera. Nie musisz nic robić."
	msgNotListedLead  = "Tego adresu nie ma na naszej liście, więc nie wyślemy na niego żadnych wiadomości."
	msgNotListedAgain = "Jeśli chcesz dostawać poradniki, zapisz się ponownie."
)

// Whitepaper download pages.
const (
	msgWPExpiredLead = "Linki do pobrania białej księgi są ważne przez 7 dni, a ten już wygasł."
	msgWPExpiredHelp = "Aby dostać nowy link, wypełnij ponownie formularz zapisu i zaznacz pole „Wyślij mi też białą księgę”. Jeśli jesteś już na liście, wyślemy tylko nowy link – nie zapiszemy cię drugi raz."
	msgWPGetNew      = "Poproś o nowy link"
	msgWPInactive    = "Ten link do pobrania nie jest już aktywny."
	msgWPMissingLead = "Nie możemy teraz udostępnić pliku. Spróbuj ponownie za kilka minut."
)

// Rate limiting, shown on its page with the wait time.
const msgRetryIn = "Spróbuj ponownie za %d s."

// Shell-less fallback: used when public/kb-shell/index.html is missing.
const fallbackShell = `<!DOCTYPE html>
<html lang="pl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>%%KB_TITLE%%</title>
</head>
<body>
<main id="main" tabindex="-1">%%KB_MAIN%%</main>
</body>
</html>
`

// Links on the pages.
const (
	pathNewsletter  = "/newsletter/"
	pathThanks      = "/newsletter/dziekujemy/"
	pathGuides      = "/poradniki/"
	pathWhitepaper  = "/biala-ksiega/"
	pathHome        = "/"
	msgToHome       = "Przejdź na stronę główną"
	msgToNewsletter = "Przejdź do strony newslettera"
)

// A stalled database: the answer of an API request past its deadline
// (deadline.go).
const (
	titleUnavailable = "Serwis chwilowo niedostępny"
	msgUnavailable   = "Serwis jest w tej chwili przeciążony i nie mógł obsłużyć żądania. Spróbuj ponownie za kilka sekund."
)

// The preference page: topics, frequency, the reader's data.
const (
	titlePrefs         = "Ustawienia newslettera"
	titlePrefsSaved    = "Zapisano ustawienia"
	titlePrefsSame     = "Nic się nie zmieniło"
	titlePrefsUnsub    = "Wypisano z newslettera"
	titlePrefsInactive = "Ten adres nie jest teraz zapisany"
	titlePrefsInvalid  = "Popraw ustawienia"

	msgPrefsLead          = "Wybierz, o czym i jak często mamy pisać na adres %s."
	msgPrefsTopicsLegend  = "O czym chcesz dostawać poradniki?"
	msgPrefsFreqLegend    = "Jak często chcesz dostawać wiadomości?"
	msgPrefsEachLabel     = "Każdy nowy poradnik w osobnym e-mailu"
	msgPrefsEachHint      = "Każdy dostaniesz w dniu publikacji."
	msgPrefsEachHintFreq  = "Każdy dostaniesz w dniu publikacji. Nowe poradniki wysyłamy %s."
	msgPrefsDigestLabel   = "Przegląd nowych poradników w jednym e-mailu"
	msgPrefsDigestHint    = "Przychodzi %s, jeśli od poprzedniego ukazało się coś nowego."
	msgPrefsDigestHintAny = "Przychodzi, gdy od poprzedniego ukazało się coś nowego."
	msgPrefsNoTopicNote   = "Jeśli odznaczysz wszystkie tematy, wypiszemy cię z newslettera."
	msgPrefsSubmit        = "Zapisz ustawienia"
	msgPrefsUnsubNote     = "Chcesz po prostu przestać dostawać poradniki? Link do wypisania się jest w każdej naszej wiadomości i wypisuje od razu – bez wchodzenia w ustawienia."
	msgPrefsNoTopics      = "Na razie nie ma tu tematów do wyboru: dostajesz wszystkie nowe poradniki."

	msgPrefsSavedLead    = "Zapisaliśmy zmiany. Obowiązują dla poradników wysyłanych od teraz:"
	msgPrefsSameLead     = "Wybrane tematy i częstotliwość są takie same jak wcześniej. Nie musisz nic robić."
	msgPrefsAddedOne     = "Dodany temat: %s."
	msgPrefsAddedMany    = "Dodane tematy: %s."
	msgPrefsRemOne       = "Usunięty temat: %s."
	msgPrefsRemMany      = "Usunięte tematy: %s."
	msgPrefsNowEach      = "Teraz dostajesz każdy nowy poradnik w osobnym e-mailu."
	msgPrefsNowDigest    = "Teraz dostajesz przegląd nowych poradników w jednym e-mailu – %s."
	msgPrefsNowDigestAny = "Teraz dostajesz przegląd nowych poradników w jednym e-mailu."
	msgPrefsUnsubLead    = "Nie zaznaczono żadnego tematu, a to oznacza wypisanie z newslettera. Adres %s jest teraz wypisany – nie wyślemy na niego kolejnych poradników."

	msgPrefsInactiveLead = "Na adres %s nie wysyłamy teraz poradników, bo nie jest zapisany na newsletter – dlatego nie ma tu czego ustawiać."
	msgPrefsInactiveHelp = "Jeśli chcesz znów je dostawać, zapisz się ponownie. Wyślemy link potwierdzający, a potem wybierzesz tematy i częstotliwość."
	msgPrefsGoneLead     = "Tego adresu nie ma już na naszej liście – na przykład dlatego, że jego dane zostały usunięte. Nie wyślemy na niego żadnych wiadomości."

	msgPrefsFix          = "Popraw zaznaczone pola i zapisz jeszcze raz. Niczego jeszcze nie zmieniliśmy."
	msgPrefsTopicsField  = "Tematy"
	msgPrefsFreqField    = "Częstotliwość"
	msgPrefsUnknownTopic = "Formularz przysłał temat, którego nie ma na liście. Zaznacz tematy jeszcze raz."
	msgPrefsDupTopic     = "Formularz przysłał ten sam temat dwa razy. Zaznacz tematy jeszcze raz."
	msgPrefsNoFreq       = "Wybierz, jak często mamy wysyłać wiadomości."
	msgPrefsBadFreq      = "Wybierz jedną z dwóch możliwości: każdy poradnik w osobnym e-mailu albo przegląd."
	msgPrefsDupFreq      = "Można wybrać tylko jedną częstotliwość."
	msgPrefsUnknownField = "Formularz zawiera pola, których ta strona nie zna, więc niczego nie zmieniliśmy. Zaznacz ustawienia i zapisz jeszcze raz."
	msgPrefsMediaType    = "Nieobsługiwany format danych. Zapisz ustawienia formularzem na tej stronie."
	msgPrefsCrossSite    = "Ustawienia i dane można zmienić tylko na stronie ustawień. Otwórz link z naszej wiadomości i spróbuj tam ponownie."
)

// The reader's data on the preference page: download and erasure (RODO
// art. 15, 17, 20).
const (
	msgDataTitle  = "Twoje dane"
	msgDataText   = "Możesz pobrać wszystko, co o tobie przechowujemy – adres, zgodę na newsletter, ustawienia i historię wysłanych wiadomości – albo usunąć te dane na stałe."
	msgDataExport = "Pobierz moje dane (JSON)"
	msgDataDelete = "Usuń moje dane…"

	titleDelete         = "Usunąć twoje dane?"
	msgDeleteLead       = "Usuniemy adres %s i wszystko, co z nim związane: zgodę na newsletter z jej potwierdzeniem, ustawienia oraz historię zapisu i wysłanych wiadomości."
	msgDeleteWarn       = "Tego nie da się cofnąć. Linki z naszych wiadomości – także ten do ustawień – przestaną działać."
	msgDeleteLighter    = "Jeśli chcesz tylko przestać dostawać poradniki, wystarczy się wypisać: link jest w każdej wiadomości. To łagodniejsza droga – w każdej chwili możesz wrócić."
	msgDeleteButton     = "Tak, usuń moje dane"
	msgDeleteStay       = "Nie, wróć do ustawień"
	msgDeleteBadConfirm = "Nie udało się odczytać potwierdzenia. Jeśli chcesz usunąć dane, naciśnij przycisk „Tak, usuń moje dane”."

	titleErased   = "Twoje dane zostały usunięte"
	msgErasedLead = "Usunęliśmy twój adres, zgodę, ustawienia i historię wiadomości. Nie wyślemy na ten adres nic więcej."
	msgErasedHelp = "Zostaje tylko zaszyfrowany skrót adresu, z którego nie da się go odczytać: dzięki niemu adres nie wróci na listę przy imporcie starych danych. Jeśli zechcesz wrócić, zapisz się ponownie na stronie newslettera."
)
